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
        ``"default"`` (the model's pretrained weights), a weights tag from
        ``model_info(name).weights``, a path to a ``.weights.h5`` file or a folder (holding
        ``<name>.<part>.weights.h5``, ``<name>.weights.h5`` or ``<name>/<tag>.json``), or
        ``None`` for freshly initialised weights. Files are sha256-checked against their
        record and refused if written for another architecture.

    Raises
    ------
    ValueError
        Unknown model name or part.
    FileNotFoundError
        The requested weights do not exist (the message says where it looked).
    ValueError
        sha256 mismatch, or weights of another architecture.
    """
    registry.entry(name)
    if part not in ("generator", "discriminator"):
        raise ValueError(f"part must be 'generator' or 'discriminator', got {part!r}")
    resolved = None if weights is None else weights_lib.resolve(name, weights, part)
    model = registry.build(name, part)
    if resolved is not None:
        path, record = resolved
        weights_lib.check_architecture(path, model, name, part)
        model.load_weights(path)
        if record is not None and part == "generator":
            model.trained_ranges = record.trained_ranges
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
