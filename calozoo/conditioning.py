"""How a generator is conditioned and how its output maps back to GeV, per model family.

This is metadata that travels with a model (in its config and in its weights record), so that
users never write preprocessing code themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Conditioning:
    """Conditioning and inverse preprocessing of a zoo generator.

    Attributes
    ----------
    latent_size
        Number of N(0, 1) values drawn per shower.
    conditions
        ``("energy",)`` or ``("energy", "angle")``.
    mode
        ``"scale"``: the network input is ``z * Ep / energy_scale``;
        ``"concat"``: the network input is ``[Ep / energy_scale, θ_rad, z]``.
    energy_scale
        GeV per unit of the network's energy input (100 for every zoo model).
    power
        Pixel transform of the training images (``X**power``); generated cells are raised to
        ``1/power``.
    cell_scale
        Stored training cells per GeV (50 for the real 3DGAN angle files), divided out.
    threshold
        Cells below this value in GeV (negatives included) are set to 0.
    energy_range
        Primary energies (GeV) the architecture is meant for.
    angle_range
        Polar angles (degrees, 90° = perpendicular) for angle-conditioned models, else None.
    """

    latent_size: int
    conditions: tuple[str, ...]
    mode: str = "scale"
    energy_scale: float = 100.0
    power: float = 1.0
    cell_scale: float = 1.0
    threshold: float = 1e-6
    energy_range: tuple[float, float] = (2.0, 500.0)
    angle_range: tuple[float, float] | None = None

    def __post_init__(self):
        if self.mode not in ("scale", "concat"):
            raise ValueError(f"conditioning mode must be 'scale' or 'concat', got {self.mode!r}")

    @property
    def network_input_size(self) -> int:
        """Width of the generator's input vector."""
        extra = len(self.conditions) if self.mode == "concat" else 0
        return self.latent_size + extra

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Conditioning:
        values = dict(values)
        values["conditions"] = tuple(values["conditions"])
        values["energy_range"] = tuple(values["energy_range"])
        if values.get("angle_range") is not None:
            values["angle_range"] = tuple(values["angle_range"])
        return cls(**values)

    @classmethod
    def coerce(cls, value: Conditioning | dict | None, default: Conditioning) -> Conditioning:
        """``value`` as a Conditioning (from a config dict), or ``default`` when None."""
        if value is None:
            return default
        return cls.from_dict(value) if isinstance(value, dict) else value


ENERGY_ONLY = Conditioning(latent_size=200, conditions=("energy",), mode="scale")
"""The 25³ models: z ~ N(0,1)^200 multiplied by Ep/100, cells in GeV."""

ENERGY_AND_ANGLE = Conditioning(
    latent_size=254,
    conditions=("energy", "angle"),
    mode="concat",
    power=0.85,
    cell_scale=50.0,
    threshold=1e-4 / 50.0,
    angle_range=(60.0, 120.0),
)
"""The 51×51×25 angle model: input [Ep/100, θ_rad, z ~ N(0,1)^254], cells ×50 GeV, power 0.85."""
