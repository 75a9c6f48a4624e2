"""Loading zoo models by name."""

from __future__ import annotations

import os

import keras

from calozoo import registry, weights as weights_lib


def load(name: str, part: str = "generator",
         weights: str | os.PathLike | None = "default") -> keras.Model:
    """A zoo model as a Keras model.

    Parameters
    ----------
    name
        Zoo name (see :func:`calozoo.list_models`).
    part
        ``"generator"`` (a :class:`calozoo.ShowerGenerator`) or ``"discriminator"``.
    weights
        ``"default"`` (the model's pretrained weights), a weights tag, a path to a
        ``.weights.h5`` file or a folder holding ``<name>.weights.h5``, or ``None`` for freshly
        initialised weights.

    Raises
    ------
    ValueError
        Unknown model name or part.
    FileNotFoundError
        The requested weights do not exist.
    """
    registry.entry(name)
    if part not in ("generator", "discriminator"):
        raise ValueError(f"part must be 'generator' or 'discriminator', got {part!r}")
    path = None if weights is None else weights_lib.resolve(name, weights)
    model = registry.build(name, part)
    if path is not None:
        model.load_weights(path)
    return model


_CACHE: dict[tuple[str, str], keras.Model] = {}


def generate(name: str, energies, angles=None, *, weights: str | os.PathLike | None = "default",
             **kwargs):
    """Showers from zoo model ``name`` in one line: ``calozoo.generate("g1-3branch", 100.0)``.

    The generator is loaded once (with ``weights``) and cached. ``energies`` in GeV, ``angles``
    in degrees; other keyword arguments go to :meth:`ShowerGenerator.generate`.
    """
    key = (name, "none" if weights is None else str(weights))
    if key not in _CACHE:
        _CACHE[key] = load(name, weights=weights)
    return _CACHE[key].generate(energies, angles, **kwargs)
