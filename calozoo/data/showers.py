"""``Showers``: a batch of calorimeter showers with their primary energies and angles."""

from __future__ import annotations

import dataclasses

import numpy as np


def check_energies(energies, what: str = "energies") -> np.ndarray:
    """Energies in GeV as a float64 1-D array; ``ValueError`` for NaN, inf or values ≤ 0."""
    values = np.atleast_1d(np.asarray(energies, dtype=np.float64))
    if values.ndim != 1:
        raise ValueError(f"{what} must be a scalar or a 1-D array, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} contain NaN or infinite values (GeV expected)")
    if np.any(values <= 0):
        raise ValueError(f"{what} must be > 0 GeV, got minimum {values.min():g}")
    return values


def check_whole(value, what: str, minimum: int) -> int:
    """``value`` as an int, or ``ValueError`` naming ``what`` unless it is an integer ≥
    ``minimum`` (booleans and floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer ≥ {minimum}, got {value!r}")
    return int(value)


def check_angles(angles, count: int) -> np.ndarray:
    """Angles in degrees as a float64 array of length ``count`` (a scalar broadcasts);
    ``ValueError`` for a length mismatch, NaN or inf."""
    values = np.atleast_1d(np.asarray(angles, dtype=np.float64))
    if values.size == 1:
        values = np.full(count, values.item())
    if values.shape != (count,):
        raise ValueError(f"{values.size} angles for {count} energies")
    if not np.all(np.isfinite(values)):
        raise ValueError("angles contain NaN or infinite values (degrees expected)")
    impossible = (values <= 0) | (values >= 180)
    if np.any(impossible):
        raise ValueError(f"{int(impossible.sum())} polar angles lie outside 0–180 degrees "
                         f"(e.g. {values[impossible][0]:g}); angles are in degrees, 90 = "
                         "perpendicular")
    return values


def parse_geometry(geometry: str | tuple[int, ...]) -> tuple[int, int, int]:
    """``"25x25x25"`` or ``(25, 25, 25)`` → ``(25, 25, 25)``."""
    if isinstance(geometry, str):
        try:
            cells = tuple(int(part) for part in geometry.lower().split("x"))
        except ValueError:
            cells = ()
    else:
        cells = tuple(int(part) for part in geometry)
    if len(cells) != 3 or min(cells) <= 0:
        raise ValueError(f"geometry must look like '25x25x25', got {geometry!r}")
    return cells


def geometry_name(shape: tuple[int, ...]) -> str:
    return "x".join(str(int(size)) for size in shape)


@dataclasses.dataclass
class Showers:
    """Showers on a cell grid, with the primaries that made them.

    Attributes
    ----------
    images
        ``(N, X, Y, Z)`` float32 cell energies in GeV (Z is the depth), or ``(N, V)`` flat
        voxels for files whose geometry is not a grid (real CaloChallenge data sets).
    energies
        ``(N,)`` primary energies in GeV.
    angles
        ``(N,)`` polar angles of incidence in degrees (90 = perpendicular), or None.
    """

    images: np.ndarray
    energies: np.ndarray
    angles: np.ndarray | None = None

    def __post_init__(self):
        self.images = np.asarray(self.images, dtype=np.float32)
        self.energies = check_energies(self.energies)
        if self.images.ndim not in (2, 4):
            raise ValueError(
                f"images must be (N, X, Y, Z) or flat (N, voxels), got shape {self.images.shape}")
        if len(self.images) != len(self.energies):
            raise ValueError(f"{len(self.images)} images but {len(self.energies)} energies")
        if self.angles is not None:
            self.angles = np.atleast_1d(np.asarray(self.angles, dtype=np.float64))
            if self.angles.shape != self.energies.shape:
                raise ValueError(
                    f"{len(self.angles)} angles but {len(self.energies)} energies")
            if not np.all(np.isfinite(self.angles)):
                raise ValueError("angles contain NaN or infinite values (degrees expected)")

    def __len__(self) -> int:
        return len(self.energies)

    def __getitem__(self, index) -> Showers:
        if isinstance(index, (int, np.integer)):
            index = slice(index, index + 1 if index != -1 else None)
        return Showers(self.images[index], self.energies[index],
                       None if self.angles is None else self.angles[index])

    @property
    def is_grid(self) -> bool:
        """Whether the images are on an (X, Y, Z) grid rather than flat voxels."""
        return self.images.ndim == 4

    @property
    def shape(self) -> tuple[int, ...]:
        """One shower's shape: (X, Y, Z), or (V,) for flat voxels."""
        return tuple(self.images.shape[1:])

    @property
    def geometry(self) -> str | None:
        """``"25x25x25"``-style name of the grid, or None for flat voxels."""
        return geometry_name(self.shape) if self.is_grid else None

    @classmethod
    def concatenate(cls, parts: list[Showers]) -> Showers:
        if not parts:
            raise ValueError("nothing to concatenate")
        with_angles = {part.angles is not None for part in parts}
        if len(with_angles) > 1:
            raise ValueError("cannot concatenate showers with and without angles")
        angles = np.concatenate([part.angles for part in parts]) if True in with_angles else None
        return cls(np.concatenate([part.images for part in parts]),
                   np.concatenate([part.energies for part in parts]), angles)

    def __repr__(self) -> str:
        angles = "" if self.angles is None else (
            f", angles {self.angles.min():.1f}–{self.angles.max():.1f}°")
        energies = f"{self.energies.min():.3g}–{self.energies.max():.3g} GeV" if len(self) else "-"
        return f"Showers(n={len(self)}, shape={self.shape}, energies {energies}{angles})"
