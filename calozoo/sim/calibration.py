"""Fit the longitudinal GFlash parameters of a sampling calorimeter to real longitudinal facts.

The longitudinal facts of SPEC §5 (mean depth, its shower-to-shower spread, RMS depth, energy in
the first five and the last three layers, per primary-energy bin) depend on the longitudinal
profile only, so the fit simulates layer energies without the lateral part (20× faster than
:func:`calozoo.sim.simulate`) and minimises the squared deviations in units of the stated
tolerances, with common random numbers (one seed for every evaluation) and Nelder–Mead.

``python -m calozoo.sim.calibration [--detector clic-wsi] [--fit]`` prints the facts simulated
against real side by side (and, with ``--fit``, the fitted parameters).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from calozoo.sim import validation
from calozoo.sim.detector import Detector, get_detector
from calozoo.sim.simulate import longitudinal_steps

TOLERANCES = {
    "mean depth": 0.4,
    "RMS depth": 0.25,
    "energy in the first five layers": 0.01,
    "energy in the last three layers": 0.015,
    "spread of the mean depth": 0.3,
    "layer of the shower maximum": 0.5,
}
"""The agreement asked of each longitudinal fact, per energy bin (layers or energy fraction);
the fit minimises the deviations in these units."""
FITTED = ("absorber_mm", "back_absorber_mm", "t_fs", "a_fs", "fluctuation_scale")
"""The parameters the fit moves: the absorber thickness of the front and of the back section
(the radiation lengths per layer; the front's layer pitch stays, its gap takes up the
difference), the sampling corrections of T and of α, and the shower-to-shower fluctuations of
both. The energy dependence of T and α stays the paper's."""
DETECTOR_FIELDS = ("absorber_mm", "back_absorber_mm")
STEPS = (0.3, 0.5, 0.2, 0.2, 0.2)
"""Initial simplex steps of the fit, one per fitted parameter."""
LOWEST_REAL_GEV = 13.0
"""The lowest primary energy among the real showers (the first bin starts there)."""


def bin_energies(per_bin: int, rng: np.random.Generator) -> np.ndarray:
    """Primary energies uniform within each longitudinal bin, ``per_bin`` per bin (GeV)."""
    parts = [rng.uniform(max(low, LOWEST_REAL_GEV), high, per_bin)
             for low, high in validation.LONGITUDINAL_BINS]
    return np.concatenate(parts)


def longitudinal_facts(detector: Detector, energies: np.ndarray, particle: str = "photon",
                       seed: int = 0) -> list[dict]:
    """The longitudinal facts of layer energies simulated without the lateral part.

    Rows as :func:`calozoo.sim.validation.measure_facts` gives them.
    """
    rng = np.random.default_rng(seed)
    _, _, _, layers = longitudinal_steps(energies, detector, particle, rng, detector.layers)
    images = layers[:, None, None, :]
    facts = [fact for fact in validation.real_facts() if fact.name in TOLERANCES]
    from calozoo.data.showers import Showers

    return validation.measure_facts(Showers(images.astype(np.float32), energies), facts)


def score(rows: list[dict]) -> float:
    """Sum of squared deviations from the real facts, in units of :data:`TOLERANCES`."""
    return float(sum(((row["value"] - row["geant4"]) / TOLERANCES[row["fact"]]) ** 2
                     for row in rows))


def with_parameters(detector: Detector, values) -> Detector:
    """``detector`` with the :data:`FITTED` longitudinal parameters set to ``values``."""
    changes = dict(zip(FITTED, (float(v) for v in values)))
    fields = {name: changes.pop(name) for name in DETECTOR_FIELDS if name in changes}
    if "absorber_mm" in fields:
        fields["gap_mm"] = detector.layer_pitch_mm - fields["absorber_mm"] - detector.sensor_mm
    return dataclasses.replace(detector, **fields,
                               longitudinal=dataclasses.replace(detector.longitudinal, **changes))


def _current(detector: Detector) -> np.ndarray:
    return np.array([getattr(detector, name) if name in DETECTOR_FIELDS
                     else getattr(detector.longitudinal, name) for name in FITTED])


def fit(detector: str | Detector = "clic-wsi", particle: str = "photon", per_bin: int = 1500,
        seed: int = 0, iterations: int = 200, restarts: int = 3) -> tuple[Detector, float]:
    """Fit :data:`FITTED` to the real longitudinal facts (Nelder–Mead, common random numbers,
    restarted from the best point ``restarts`` times).

    Returns
    -------
    tuple
        The detector with the fitted parameters, and the final score.
    """
    found = get_detector(detector)
    energies = bin_energies(per_bin, np.random.default_rng(seed))

    def objective(values):
        absorber, back_absorber = values[0], values[1]
        if (values[-1] <= 0 or not 0.5 < absorber < found.layer_pitch_mm - found.sensor_mm
                or not 0.5 < back_absorber < 20.0):
            return np.inf
        return score(longitudinal_facts(with_parameters(found, values), energies, particle,
                                        seed))

    best, value = _current(found), np.inf
    for _ in range(restarts):
        best, value = _nelder_mead(objective, best, np.array(STEPS), iterations)
    return with_parameters(found, best), value


def _nelder_mead(function, start: np.ndarray, step: np.ndarray, iterations: int):
    simplex = [start] + [start + np.eye(len(start))[i] * step[i] for i in range(len(start))]
    values = [function(point) for point in simplex]
    for _ in range(iterations):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centroid = np.mean(simplex[:-1], axis=0)
        reflected = centroid + (centroid - simplex[-1])
        reflected_value = function(reflected)
        if reflected_value < values[0]:
            expanded = centroid + 2.0 * (centroid - simplex[-1])
            expanded_value = function(expanded)
            simplex[-1], values[-1] = ((expanded, expanded_value)
                                       if expanded_value < reflected_value
                                       else (reflected, reflected_value))
        elif reflected_value < values[-2]:
            simplex[-1], values[-1] = reflected, reflected_value
        else:
            contracted = centroid + 0.5 * (simplex[-1] - centroid)
            contracted_value = function(contracted)
            if contracted_value < values[-1]:
                simplex[-1], values[-1] = contracted, contracted_value
            else:
                simplex = [simplex[0] + 0.5 * (point - simplex[0]) for point in simplex]
                values = [values[0]] + [function(point) for point in simplex[1:]]
    best = int(np.argmin(values))
    return simplex[best], values[best]


def format_rows(rows: list[dict]) -> str:
    """A side-by-side table: fact, energy bin, real value, simulated value ± error."""
    lines = [f"{'fact':<40} {'bin [GeV]':>10} {'Geant4':>9} {'simulated':>18}"]
    for row in rows:
        low, high = row["bin_gev"]
        lines.append(f"{row['fact']:<40} {f'{low:g}-{high:g}':>10} {row['geant4']:>9.4g} "
                     f"{row['value']:>9.4g} ± {row['error']:<7.2g}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m calozoo.sim.calibration",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--detector", default="clic-wsi")
    parser.add_argument("--particle", default="photon", choices=("photon", "electron"))
    parser.add_argument("-n", type=int, default=4000, help="full simulated showers to compare")
    parser.add_argument("--fit", action="store_true", help="fit the longitudinal parameters")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    detector = get_detector(args.detector)
    if args.fit:
        detector, value = fit(detector, args.particle, seed=args.seed)
        print(f"score {value:.3f}: " + ", ".join(
            f"{name} = {value:.4f}" for name, value in zip(FITTED, _current(detector))))
    from calozoo.sim.simulate import simulate

    rng = np.random.default_rng(args.seed + 1)
    energies = rng.uniform(LOWEST_REAL_GEV, 500.0, args.n)
    showers = simulate(energies, detector=detector, particle=args.particle, seed=args.seed + 2)
    print(format_rows(validation.measure_facts(showers)))


if __name__ == "__main__":
    main()
