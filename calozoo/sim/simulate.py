"""``simulate()``: electromagnetic showers in the reference detector, GFlash-parametrised.

Per shower: correlated Gamma parameters of the longitudinal profile; the primary's start depth
(0 for electrons, exponential with mean 9/7 X0 for photons); per longitudinal step the
deposited energy with sampling fluctuations (a Gamma variate of variance c²·ΔE), the number of
spots from the spot profile, and the radial profile at the step's τ. The spots of a step are
drawn as multinomial counts over the cells of a window around the shower axis, each spot
carrying the step's visible energy divided by the step's spot count.
"""

from __future__ import annotations

import concurrent.futures
import math
import os

import numpy as np

from calozoo.data.showers import Showers, check_angles, check_energies, parse_geometry
from calozoo.sim import cells
from calozoo.sim.detector import Detector, get_detector
from calozoo.sim.gflash import (
    longitudinal_profiles, radial_parameters, regularized_gamma_p,
)

GEOMETRIES = ((25, 25, 25), (51, 51, 25))
PARTICLES = ("electron", "photon")
CELLS_PER_CHUNK = 16_000_000
ANGLE_LIMITS = (30.0, 150.0)


def _check_angles(angles, count: int, shape: tuple[int, int, int]) -> np.ndarray | None:
    if angles is None:
        return None
    values = check_angles(angles, count)
    low, high = ANGLE_LIMITS
    if np.any((values < low) | (values > high)):
        raise ValueError(f"angles must lie in {low:g}–{high:g} degrees (90 = perpendicular), "
                         f"got {values.min():g}–{values.max():g}")
    if shape == (25, 25, 25) and np.any(values != 90.0):
        raise ValueError("the 25x25x25 geometry is for perpendicular showers; use "
                         "geometry='51x51x25' for angles other than 90 degrees")
    return values


def simulate(energies, angles=None, *, geometry: str = "25x25x25",
             detector: str | Detector = "clic-wsi", particle: str = "electron",
             seed: int | np.random.SeedSequence | None = None) -> Showers:
    """Simulate showers in the reference detector.

    Parameters
    ----------
    energies
        Primary energies in GeV (scalar or array).
    angles
        Polar angles of incidence in degrees (90 = perpendicular; a scalar broadcasts). On
        ``"51x51x25"`` a tilt away from 90° turns the shower axis in the y–z plane; the axis
        crosses the grid centre at mid-depth. None means perpendicular (and ``angles`` of the
        result is None).
    geometry
        ``"25x25x25"`` (the shower enters at the centre of the middle cell, perpendicular) or
        ``"51x51x25"``.
    detector
        ``"clic-wsi"``, ``"pbwo4"``, or a :class:`~calozoo.sim.Detector`.
    particle
        ``"electron"`` or ``"photon"``.
    seed
        Seed of the random generator; the same seed gives identical showers (whatever the
        number of cores; chunks of showers run on threads, one per allowed core).

    Returns
    -------
    Showers
        Cell energies (visible, in GeV), primary energies and angles.
    """
    shape = parse_geometry(geometry)
    if shape not in GEOMETRIES:
        raise ValueError(f"geometry must be one of "
                         f"{', '.join('x'.join(map(str, g)) for g in GEOMETRIES)}, "
                         f"got {geometry!r}")
    if particle not in PARTICLES:
        raise ValueError(f"particle must be one of {PARTICLES}, got {particle!r}")
    found = get_detector(detector)
    primary = check_energies(energies)
    tilt = _check_angles(angles, len(primary), shape)
    images = np.empty((len(primary), *shape), dtype=np.float32)
    chunk = max(1, CELLS_PER_CHUNK // math.prod(shape))
    starts = range(0, len(primary), chunk)
    # One random stream per chunk of fixed size: the showers depend on the seed only, not on
    # how many threads run the chunks.
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    streams = root.spawn(len(starts))

    def run(index: int) -> None:
        start = starts[index]
        stop = min(start + chunk, len(primary))
        _simulate_chunk(primary[start:stop], None if tilt is None else tilt[start:stop],
                        shape, found, particle, np.random.default_rng(streams[index]),
                        images[start:stop])

    workers = min(len(starts), _cores())
    if workers > 1:
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, range(len(starts))))
    else:
        for index in range(len(starts)):
            run(index)
    return Showers(images, primary, tilt)


def _cores() -> int:
    """The cores this process may run on (numpy's sampling releases the GIL)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _simulate_chunk(energies: np.ndarray, angles: np.ndarray | None, shape, detector: Detector,
                    particle: str, rng: np.random.Generator, out: np.ndarray) -> None:
    n = len(energies)
    nx, ny, nz = shape
    tilted = angles is not None and np.any(angles != 90.0)
    substeps = 2 if tilted else 1
    theta = np.radians(angles) if angles is not None else np.full(n, math.pi / 2)
    sin_theta = np.sin(theta)

    steps = nz * substeps
    profiles, depth, deposited, visible = longitudinal_steps(
        energies, detector, particle, rng, steps, sin_theta)
    spot_cdf = regularized_gamma_p(profiles.spot_alpha[:, None],
                                   profiles.spot_beta[:, None] * depth)
    spots = np.rint(profiles.spots[:, None] * np.diff(spot_cdf, axis=1))
    spots = np.where(deposited > 0, np.maximum(spots, 1), 0).astype(np.int64)

    middle = 0.5 * (depth[:, 1:] + depth[:, :-1])
    core, tail, weight = radial_parameters(profiles.tau(middle), energies, detector)
    to_cells = detector.moliere_radius_mm / detector.cell_mm
    core, tail = core * to_cells, tail * to_cells

    # Shower axis in cell coordinates (cell i spans [i, i+1)) at each step's middle.
    step_mm = np.repeat(detector.layer_pitches_mm / substeps, substeps)
    z_mm = np.cumsum(step_mm) - 0.5 * step_mm
    axis_x = np.full((n, steps), nx / 2.0)
    cot = np.cos(theta) / np.maximum(sin_theta, 1e-9)
    axis_y = ny / 2.0 + (z_mm[None, :] - step_mm.sum() / 2.0) * cot[:, None] \
        / detector.cell_mm
    layer = np.broadcast_to(np.arange(steps) // substeps, (n, steps))
    _deposit(shape, visible, spots, core, tail, weight, axis_x, axis_y, layer, rng, out)


def longitudinal_steps(energies: np.ndarray, detector: Detector, particle: str,
                       rng: np.random.Generator, steps: int,
                       sin_theta: np.ndarray | None = None):
    """The longitudinal part of a shower over ``steps`` (a multiple of the layers): Gamma
    profiles, step boundaries (X0 along the axis from the shower start), deposited and
    visible energy per step (GeV, sampling fluctuations included).

    Returns
    -------
    tuple
        ``(profiles, depth (N, steps + 1), deposited (N, steps), visible (N, steps))``.
    """
    n = len(energies)
    if sin_theta is None:
        sin_theta = np.ones(n)
    profiles = longitudinal_profiles(energies, detector, rng)
    start = (rng.exponential(detector.longitudinal.photon_start_x0, n) if particle == "photon"
             else np.zeros(n))
    substeps = steps // detector.layers
    step_x0 = np.repeat(detector.layer_x0s / substeps, substeps)
    boundaries = np.r_[0.0, np.cumsum(step_x0)]                          # X0 along z
    depth = boundaries[None, :] / sin_theta[:, None] - start[:, None]     # X0 along the axis
    depth = np.maximum(depth, 0.0)
    energy_cdf = regularized_gamma_p(profiles.alpha[:, None], profiles.beta[:, None] * depth)
    deposited = energies[:, None] * np.diff(energy_cdf, axis=1)
    c2 = detector.stochastic_term**2
    fluctuated = np.where(deposited > 0, rng.gamma(np.maximum(deposited / c2, 1e-12), c2), 0.0)
    weights = np.repeat(detector.layer_weights, substeps) * detector.sampling_fraction
    return profiles, depth, deposited, fluctuated * weights


def _quantise(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis cell and offset (in 1/OFFSET_STEPS of a cell) from that cell's centre."""
    steps = cells.OFFSET_STEPS
    quantised = np.rint((position - 0.5) * steps).astype(np.int64)  # in units of 1/steps
    cell = np.floor_divide(quantised + steps // 2, steps)
    return cell, quantised - cell * steps


def _deposit(shape, visible, spots, core, tail, weight, axis_x, axis_y, layer, rng, out):
    """Draw each step's spots over the cells around the axis and write the visible energy
    per cell into ``out`` (n, X, Y, Z)."""
    nx, ny, nz = shape
    half = cells.WINDOW // 2
    active = spots > 0
    shower_index, step_index = np.nonzero(active)
    cell_x, offset_x = _quantise(axis_x[active])
    cell_y, offset_y = _quantise(axis_y[active])
    spot_energy = visible[active] / spots[active]
    counts_total = spots[active]
    core_r, tail_r, core_w = core[active], tail[active], weight[active]
    layers = layer[shower_index, step_index]

    # Flat index of the window's corner cell in each row's layer; a window cell adds its own
    # offset. Only rows whose window crosses the grid's edge need a mask.
    corner = ((shower_index * nx + cell_x - half) * ny + cell_y - half) * nz + layers
    crosses = ((cell_x - half < 0) | (cell_x + half >= nx) | (cell_y - half < 0)
               | (cell_y + half >= ny))
    out[...] = 0.0
    cells_out = out.reshape(-1)
    keys = offset_x * 16 + offset_y
    for key in np.unique(keys):
        chosen = np.nonzero(keys == key)[0]
        table, order = cells.sorted_table(int(offset_x[chosen[0]]), int(offset_y[chosen[0]]))
        pvals = cells.mixture_probabilities(table, core_r[chosen], tail_r[chosen],
                                            core_w[chosen])
        counts = rng.multinomial(counts_total[chosen], pvals)
        rows, slots = np.nonzero(counts)
        kept = slots < cells.WINDOW**2              # the last column: outside the window
        rows, slots = rows[kept], slots[kept]
        wx, wy = np.divmod(order, cells.WINDOW)
        entry = chosen[rows]
        flat = corner[entry] + ((wx * ny + wy) * nz)[slots]
        deposit = counts[rows, slots] * spot_energy[entry]
        if crosses[chosen].any():
            gx = cell_x[entry] - half + wx[slots]
            gy = cell_y[entry] - half + wy[slots]
            inside = (gx >= 0) & (gx < nx) & (gy >= 0) & (gy < ny)
            flat, deposit = flat[inside], deposit[inside]
        np.add.at(cells_out, flat, deposit.astype(np.float32))
