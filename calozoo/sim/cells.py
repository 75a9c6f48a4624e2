"""Cell probabilities of the GFlash radial components on a square cell grid.

Each radial component has the CDF r²/(r² + R²); its probability over a cell is the integral of
the planar density R² / (π (x² + y² + R²)²). With the inner integral in closed form and the
substitution x = R tan θ, the quadrant integral G(a, b) is a smooth one-dimensional integral,
done by Gauss–Legendre quadrature. Tables are made once per axis offset and interpolated in
log R.
"""

from __future__ import annotations

import functools

import numpy as np

WINDOW = 25
"""Cells per side of the window around the shower axis in which spots are placed."""
OFFSET_STEPS = 4
"""Axis positions inside a cell are quantised to 1/OFFSET_STEPS of a cell."""
RADII = np.geomspace(0.01, 40.0, 96)
"""Radii (cell units) of the tables."""
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)


def quadrant_probability(a: np.ndarray, b: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """P(0 < X < a, 0 < Y < b) for one radial component of radius R (all ≥ 0, broadcast)."""
    a, b, radius = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (a, b, radius)))
    upper = np.arctan2(a, radius)
    theta = 0.5 * upper[..., None] * (_NODES + 1.0)
    cos = np.cos(theta)
    bb, rr = b[..., None], radius[..., None]
    integrand = (bb * rr / (2.0 * (bb**2 + (rr / cos) ** 2))
                 + 0.5 * cos * np.arctan2(bb * cos, rr))
    return 0.5 * upper * (integrand @ _WEIGHTS) / np.pi


@functools.lru_cache(maxsize=1)
def _lattice() -> np.ndarray:
    """G(|a|, |b|) for every radius on the lattice of edges 0, 1/S, …, WINDOW/2 + 1 cells."""
    steps = np.arange((WINDOW // 2 + 1) * OFFSET_STEPS + OFFSET_STEPS // 2 + 1) / OFFSET_STEPS
    rows = [quadrant_probability(steps[:, None], steps[None, :], radius) for radius in RADII]
    return np.stack(rows)


def _edge_lookup(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lattice index of |edge| and sign(edge), for H(a, b) = sign(a) sign(b) G(|a|, |b|)."""
    index = np.rint(np.abs(edges) * OFFSET_STEPS).astype(np.int64)
    return index, np.sign(edges)


@functools.cache
def cell_table(offset_x: int, offset_y: int) -> np.ndarray:
    """Cell probabilities (len(RADII), WINDOW, WINDOW) for an axis at offset/OFFSET_STEPS
    of a cell from the centre of the window's middle cell (offsets in [-S/2, S/2))."""
    half = WINDOW / 2.0
    ix, sx = _edge_lookup(np.arange(WINDOW + 1) - half - offset_x / OFFSET_STEPS)
    iy, sy = _edge_lookup(np.arange(WINDOW + 1) - half - offset_y / OFFSET_STEPS)
    h = _lattice()[:, ix][:, :, iy] * sx[None, :, None] * sy[None, None, :]
    cells = h[:, 1:, 1:] - h[:, :-1, 1:] - h[:, 1:, :-1] + h[:, :-1, :-1]
    return np.clip(cells, 0.0, None).astype(np.float32)


@functools.cache
def sorted_table(offset_x: int, offset_y: int) -> tuple[np.ndarray, np.ndarray]:
    """``cell_table`` flattened to (R, W·W + 1) with cells by decreasing probability and, last,
    the probability of falling outside the window; and that order (flat window indices).
    Multinomial draws over sorted cells finish early."""
    table = cell_table(offset_x, offset_y).reshape(len(RADII), -1).astype(np.float64)
    order = np.argsort(-table[np.searchsorted(RADII, 1.0)], kind="stable")
    table = table[:, order]
    outside = np.clip(1.0 - table.sum(axis=1, keepdims=True), 0.0, 1.0)
    table = np.concatenate([table, outside], axis=1)
    return table / table.sum(axis=1, keepdims=True), order


def interpolation_weights(radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the tables below each radius and the linear-in-log-R weight of the row above:
    ``table[low] * (1 - fraction) + table[low + 1] * fraction``."""
    position = np.interp(np.log(np.clip(radius, RADII[0], RADII[-1])), np.log(RADII),
                         np.arange(len(RADII)))
    low = np.minimum(position.astype(np.int64), len(RADII) - 2)
    return low, position - low


def mixture_probabilities(table: np.ndarray, core: np.ndarray, tail: np.ndarray,
                          core_weight: np.ndarray) -> np.ndarray:
    """Cell probabilities of the two-component radial profile, one row per (core, tail,
    weight): the interpolated table rows mixed, as one matrix product."""
    first = np.arange(len(core)) * len(RADII)
    core_low, core_fraction = interpolation_weights(core)
    tail_low, tail_fraction = interpolation_weights(tail)
    tail_weight = 1.0 - core_weight
    flat = np.concatenate([first + core_low, first + core_low + 1,
                           first + tail_low, first + tail_low + 1])
    weights = np.concatenate([core_weight * (1.0 - core_fraction), core_weight * core_fraction,
                              tail_weight * (1.0 - tail_fraction), tail_weight * tail_fraction])
    mixing = np.bincount(flat, weights, minlength=len(core) * len(RADII))
    return mixing.reshape(len(core), len(RADII)) @ table
