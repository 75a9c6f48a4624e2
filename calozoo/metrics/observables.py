"""Shower observables on numpy arrays: images (N, X, Y, Z) in GeV, energies (N,) in GeV.

Every function works on one batch; :mod:`calozoo.metrics.summary` streams files through them.
Cell coordinates are ``index + 0.5`` (in cells); Z is the depth.
"""

from __future__ import annotations

import numpy as np

HIT_THRESHOLD_GEV = 1e-5
"""The seed paper's hit threshold."""


def _grid(images: np.ndarray, what: str) -> np.ndarray:
    if images.ndim != 4:
        raise ValueError(f"{what} needs showers on an (X, Y, Z) grid; these are flat voxels "
                         f"{images.shape[1:]} (e.g. a real CaloChallenge file)")
    return images


def total_energy(images: np.ndarray) -> np.ndarray:
    """Deposited energy per shower (GeV)."""
    return images.reshape(len(images), -1).sum(axis=1, dtype=np.float64)


def sampling_fraction(images: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """ΣE / Ep per shower."""
    return total_energy(images) / energies


def hits(images: np.ndarray, threshold: float = HIT_THRESHOLD_GEV) -> np.ndarray:
    """Cells above ``threshold`` GeV per shower."""
    return (images.reshape(len(images), -1) > threshold).sum(axis=1)


def sparsity(images: np.ndarray) -> np.ndarray:
    """Fraction of empty cells per shower."""
    return (images.reshape(len(images), -1) <= 0).mean(axis=1)


def cell_spectrum(images: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Histogram (counts) of the energies of non-zero cells on ``edges`` (GeV)."""
    cells = images[images > 0]
    return np.histogram(cells, bins=edges)[0]


def cell_spectra(images: np.ndarray, edges: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Per shower, the histogram (counts) of its non-zero cell energies on ``edges`` (GeV):
    (N, len(edges) − 1), on np.histogram's bins (the last one closed); the rows sum to
    :func:`cell_spectrum`. ``chunk`` showers at a time bound the memory."""
    bins = len(edges) - 1
    counts = np.zeros((len(images), bins), dtype=np.int64)
    flat = images.reshape(len(images), -1)
    for start in range(0, len(flat), chunk):
        part = flat[start:start + chunk]
        nonzero = part > 0
        values = part[nonzero]
        rows = np.repeat(np.arange(len(part), dtype=np.int32), nonzero.sum(axis=1))
        index = np.searchsorted(edges, values, side="right").astype(np.int32) - 1
        index[values == edges[-1]] = bins - 1
        inside = (index >= 0) & (index < bins)
        counts[start:start + len(part)] = np.bincount(
            rows[inside] * bins + index[inside], minlength=len(part) * bins
        ).reshape(len(part), bins)
    return counts


def projections(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-shower sums along x, y and z: shapes (N, Y, Z), (N, X, Z), (N, X, Y)."""
    images = _grid(images, "projections")
    return images.sum(axis=1), images.sum(axis=2), images.sum(axis=3)


def longitudinal_profile(images: np.ndarray) -> np.ndarray:
    """Energy per layer (N, Z)."""
    return _grid(images, "the longitudinal profile").sum(axis=(1, 2))


def _barycentre(weights: np.ndarray, axis_length: int) -> np.ndarray:
    total = weights.sum(axis=1)
    centres = np.arange(axis_length) + 0.5
    return (weights * centres).sum(axis=1) / np.where(total > 0, total, 1.0)


def lateral_profile(images: np.ndarray, radii: int | None = None) -> np.ndarray:
    """Energy in rings of one cell width around each shower's x–y barycentre: (N, R)."""
    images = _grid(images, "the lateral profile")
    lateral = images.sum(axis=3)
    n, nx, ny = lateral.shape
    radii = radii or max(nx, ny) // 2 + 1
    bar_x = _barycentre(lateral.sum(axis=2), nx)
    bar_y = _barycentre(lateral.sum(axis=1), ny)
    dx = (np.arange(nx) + 0.5)[None, :, None] - bar_x[:, None, None]
    dy = (np.arange(ny) + 0.5)[None, None, :] - bar_y[:, None, None]
    ring = np.minimum(np.hypot(dx, dy).astype(np.int64), radii - 1)
    flat = (np.arange(n)[:, None, None] * radii + ring).ravel()
    return np.bincount(flat, weights=lateral.ravel(), minlength=n * radii).reshape(n, radii)


def moments(images: np.ndarray, orders=(1, 2, 3)) -> dict[str, np.ndarray]:
    """Shower moments per axis: m1 = barycentre (cells), m2/m3 = 2nd/3rd central moments.

    Keys ``m{k}_{axis}``; an empty shower gives 0.
    """
    images = _grid(images, "moments")
    total = images.sum(axis=(1, 2, 3), dtype=np.float64)
    safe = np.where(total > 0, total, 1.0)
    result = {}
    for axis, name in ((1, "x"), (2, "y"), (3, "z")):
        others = tuple(a for a in (1, 2, 3) if a != axis)
        marginal = images.sum(axis=others, dtype=np.float64)
        coordinates = np.arange(images.shape[axis]) + 0.5
        mean = (marginal * coordinates).sum(axis=1) / safe
        for order in orders:
            if order == 1:
                result[f"m1_{name}"] = np.where(total > 0, mean, 0.0)
            else:
                centred = (coordinates[None, :] - mean[:, None]) ** order
                result[f"m{order}_{name}"] = (marginal * centred).sum(axis=1) / safe
    return result


def max_position(images: np.ndarray) -> np.ndarray:
    """(N, 3) indices of each shower's hottest cell."""
    images = _grid(images, "the position of the maximum")
    flat = images.reshape(len(images), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, images.shape[1:]), axis=1)


def shower_max_layer(images: np.ndarray) -> np.ndarray:
    """Layer (0-based) of the largest deposit per shower."""
    return longitudinal_profile(images).argmax(axis=1)


def measured_angle(images: np.ndarray) -> np.ndarray:
    """The 3DGAN measured polar angle in degrees (SPEC §2), NaN for empty showers."""
    images = _grid(images, "the measured angle").astype(np.float64)
    n, nx, ny, nz = images.shape
    xs, ys, zs = (np.arange(size) + 0.5 for size in (nx, ny, nz))
    total = images.sum(axis=(1, 2, 3))
    safe = np.where(total > 0, total, 1.0)
    x_bar = (images.sum(axis=(2, 3)) * xs).sum(axis=1) / safe
    y_bar = (images.sum(axis=(1, 3)) * ys).sum(axis=1) / safe
    z_bar = (images.sum(axis=(1, 2)) * zs).sum(axis=1) / safe
    layer = images.sum(axis=(1, 2))
    filled = layer > 0
    safe_layer = np.where(filled, layer, 1.0)
    x_layer = (images.sum(axis=2) * xs[None, :, None]).sum(axis=1) / safe_layer
    y_layer = (images.sum(axis=1) * ys[None, :, None]).sum(axis=1) / safe_layer
    dz = zs[None, :] - z_bar[:, None]
    projection = np.sqrt(np.maximum((x_layer - x_bar[:, None]) ** 2 + dz**2, 1e-7))
    slope = (y_layer - y_bar[:, None]) / projection
    slope = np.where(dz < 0, -slope, slope)
    angle = np.pi / 2 - np.arctan(slope)
    weight = np.where(filled, zs[None, :], 0.0)
    weight_sum = weight.sum(axis=1)
    result = (angle * weight).sum(axis=1) / np.where(weight_sum > 0, weight_sum, 1.0)
    return np.where(total > 0, np.degrees(result), np.nan)


def mu90_sigma90(values) -> tuple[float, float]:
    """Mean and standard deviation of the central 90% of a distribution: a symmetric trim of
    5% on each side (the seed paper's μ90 and σ90; see :func:`rms90` for the narrowest
    window)."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("mu90_sigma90 of an empty sample")
    count = len(values)
    keep = max(1, int(round(0.9 * count)))
    start = (count - keep) // 2
    central = values[start:start + keep]
    return float(central.mean()), float(central.std())


def rms90(values) -> tuple[float, float]:
    """Mean and RMS of the narrowest window that holds 90% of a distribution (rms90, the usual
    calorimetry resolution estimator; it ignores a one-sided tail that the symmetric trim of
    :func:`mu90_sigma90` keeps)."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("rms90 of an empty sample")
    keep = max(1, int(round(0.9 * len(values))))
    widths = values[keep - 1:] - values[:len(values) - keep + 1]
    start = int(np.argmin(widths))
    window = values[start:start + keep]
    return float(window.mean()), float(window.std())
