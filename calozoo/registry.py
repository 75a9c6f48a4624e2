"""The zoo: one entry per model name, with what a user needs to know before building it.

Builders are referenced by import path so that listing the zoo does not import Keras.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
from typing import Any

from calozoo.conditioning import ENERGY_AND_ANGLE, ENERGY_ONLY, Conditioning

KHATTAK = (
    "G. R. Khattak, S. Vallecorsa, F. Carminati, G. M. Khan, 'Fast simulation of a high "
    "granularity calorimeter by generative adversarial networks', Eur. Phys. J. C 82 (2022) 386, "
    "arXiv:2109.07388"
)
REHM = (
    "F. Rehm, S. Vallecorsa, K. Borras, D. Krücker, 'Physics Validation of Novel Convolutional 2D "
    "Architectures for Speeding Up High Energy Physics Simulations', EPJ Web Conf. 251 (2021) "
    "03042, arXiv:2105.08960"
)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What the zoo knows about a model, without building it.

    Attributes
    ----------
    name
        Zoo name, e.g. ``"g1-3branch"``.
    shape
        Output grid (X, Y, Z) in cells; Z is the depth (layers).
    latent_size
        Number of N(0, 1) values drawn per shower.
    conditions
        ``("energy",)`` or ``("energy", "angle")``; energies in GeV, angles in degrees.
    generator_params, discriminator_params
        Parameter counts of the published networks.
    reference
        The paper.
    weights
        Tags of the available pretrained weights (empty until weights exist).
    description
        One line on the architecture.
    """

    name: str
    shape: tuple[int, int, int]
    latent_size: int
    conditions: tuple[str, ...]
    generator_params: int
    discriminator_params: int
    reference: str
    weights: tuple[str, ...]
    description: str


@dataclasses.dataclass(frozen=True)
class _Entry:
    name: str
    shape: tuple[int, int, int]
    conditioning: Conditioning
    generator: str
    discriminator: str
    generator_params: int
    discriminator_params: int
    reference: str
    description: str
    generator_kwargs: tuple[tuple[str, Any], ...] = ()
    discriminator_kwargs: tuple[tuple[str, Any], ...] = ()


_ENTRIES: dict[str, _Entry] = {
    entry.name: entry
    for entry in (
        _Entry(
            name="conv3d",
            shape=(25, 25, 25),
            conditioning=ENERGY_ONLY,
            generator="calozoo.models.conv3d:Conv3DGenerator",
            discriminator="calozoo.models.conv3d:Conv3DDiscriminator",
            generator_params=872_948,
            discriminator_params=73_450,
            reference=KHATTAK,
            description="3DGAN Conv3D generator, energy-conditioned (baseline of Rehm et al.)",
        ),
        _Entry(
            name="3dgan-angle",
            shape=(51, 51, 25),
            conditioning=ENERGY_AND_ANGLE,
            generator="calozoo.models.angle3d:Angle3DGenerator",
            discriminator="calozoo.models.angle3d:Angle3DDiscriminator",
            generator_params=1_365_047,
            discriminator_params=87_402,
            reference=KHATTAK,
            description="3DGAN Conv3D generator, energy- and angle-conditioned, 51×51×25",
        ),
        _Entry(
            name="g1-3branch",
            shape=(25, 25, 25),
            conditioning=ENERGY_ONLY,
            generator="calozoo.models.g1_three_branch:G1ThreeBranchGenerator",
            discriminator="calozoo.models.discriminator2d:ThreeBranchDiscriminator",
            generator_params=2_055_324,
            discriminator_params=714_114,
            reference=REHM,
            description="Conv2D generator with three view branches (G1, the paper's best)",
        ),
        _Entry(
            name="g2-25branch",
            shape=(25, 25, 25),
            conditioning=ENERGY_ONLY,
            generator="calozoo.models.g2_25_branch:G2TwentyFiveBranchGenerator",
            discriminator="calozoo.models.discriminator2d:ThreeBranchDiscriminator",
            generator_params=2_131_000,
            discriminator_params=714_114,
            reference=REHM,
            description="Conv2D generator with 25 single-map branches (G2)",
        ),
        _Entry(
            name="g3-1branch",
            shape=(25, 25, 25),
            conditioning=ENERGY_ONLY,
            generator="calozoo.models.g3_one_branch:G3OneBranchGenerator",
            discriminator="calozoo.models.discriminator2d:ThreeBranchDiscriminator",
            generator_params=2_397_022,
            discriminator_params=902_658,
            reference=REHM,
            description="Conv2D generator, one branch with skip connections (G3)",
            discriminator_kwargs=(("deeper", True),),
        ),
    )
}


def list_models(pattern: str = "*") -> list[str]:
    """Names of the zoo's models matching an fnmatch ``pattern`` (e.g. ``"g*"``), sorted."""
    return sorted(name for name in _ENTRIES if fnmatch.fnmatchcase(name, pattern))


def _closest(name: str) -> str | None:
    lowered = name.lower()
    prefixed = [known for known in _ENTRIES if known.startswith(lowered)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(lowered, list(_ENTRIES), n=1, cutoff=0.4)
    return close[0] if close else None


def entry(name: str) -> _Entry:
    """The registry entry of ``name``; ``ValueError`` listing the known names otherwise."""
    if isinstance(name, str) and name in _ENTRIES:
        return _ENTRIES[name]
    message = f"unknown model {name!r}; known models: {', '.join(list_models())}"
    suggestion = _closest(name) if isinstance(name, str) else None
    if suggestion:
        message += f" (did you mean {suggestion!r}?)"
    raise ValueError(message)


def model_info(name: str) -> ModelInfo:
    """What the zoo knows about ``name`` (a frozen :class:`ModelInfo`)."""
    from calozoo.weights import available_tags

    found = entry(name)
    return ModelInfo(
        name=found.name,
        shape=found.shape,
        latent_size=found.conditioning.latent_size,
        conditions=found.conditioning.conditions,
        generator_params=found.generator_params,
        discriminator_params=found.discriminator_params,
        reference=found.reference,
        weights=available_tags(found.name),
        description=found.description,
    )


def build(name: str, part: str = "generator"):
    """A freshly initialised Keras model for ``name``'s generator or discriminator."""
    found = entry(name)
    if part == "generator":
        path, kwargs = found.generator, dict(found.generator_kwargs)
        kwargs["conditioning"] = found.conditioning
    elif part == "discriminator":
        path, kwargs = found.discriminator, dict(found.discriminator_kwargs)
    else:
        raise ValueError(f"part must be 'generator' or 'discriminator', got {part!r}")
    module_name, class_name = path.split(":")
    model_class = getattr(importlib.import_module(module_name), class_name)
    return model_class(name=f"{name}_{part}".replace("-", "_"), **kwargs)
