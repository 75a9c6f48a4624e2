"""Are compare()'s errors the right size? Pull widths over replicas of one distribution.

Each replica compares two independent samples of the same distribution (the reference
detector, electrons in the seed paper's ±5 GeV bins). For every quantity the pull width is the
standard deviation of its values over the replicas divided by the RMS of the errors that
compare() gave: 1 when the errors are right, > 1 when they are too small.

Usage: python benchmarks/metric_pulls.py [--replicas 30] [--per-bin 200] [--bootstrap 100]
                                         [--scale 1.0]
``--scale`` multiplies the second sample's cells (a real difference, to see that the errors
still describe the spread when the samples differ).
Prints a Markdown table for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

import numpy as np

from calozoo.data import Showers
from calozoo.metrics import compare
from calozoo.metrics.summary import ENERGY_BINS
from calozoo.sim import simulate

QUANTITIES = (
    "response_mu90/ratio/all", "response_mu90/ratio/100GeV", "resolution/ratio/all",
    "resolution/ratio/100GeV", "response_rms90/ratio/all", "resolution_rms90/ratio/all",
    "hits_mean/ratio/all", "separation/total_energy/100GeV", "separation/hits",
    "separation/m1_z", "separation/m2_x", "separation/shower_max_layer", "fpd", "kpd",
    "separation/cell_spectrum", "projection_mse/all", "projection_mse/100GeV", "ssim/all",
    "ssim/100GeV",
)


def sample(per_bin: int, seed: int):
    rng = np.random.default_rng(seed)
    energies = np.concatenate([rng.uniform(low, high, per_bin) for low, high in ENERGY_BINS])
    return simulate(energies, seed=seed + 10_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--per-bin", type=int, default=200)
    parser.add_argument("--bootstrap", type=int, default=100)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    values: dict[str, list[float]] = {key: [] for key in QUANTITIES}
    errors: dict[str, list[float]] = {key: [] for key in QUANTITIES}
    for replica in range(args.replicas):
        second = sample(args.per_bin, 2 * replica + 1)
        second = Showers(second.images * args.scale, second.energies)
        results = compare(sample(args.per_bin, 2 * replica), second, classifier=False,
                          bootstrap=args.bootstrap, seed=replica)
        for key in QUANTITIES:
            values[key].append(results[key])
            errors[key].append(results[f"{key}_error"])
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"{args.replicas} replicas, {args.per_bin} electrons per ±5 GeV bin "
          f"({len(ENERGY_BINS) * args.per_bin} per sample), {args.bootstrap} bootstrap "
          f"replicas, second sample's cells × {args.scale:g}, {machine}, "
          f"{datetime.date.today().isoformat()}\n")
    print("| quantity | mean over replicas | std over replicas | RMS of the errors | "
          "pull width | ± |")
    print("|---|---|---|---|---|---|")
    for key in QUANTITIES:
        spread = float(np.std(values[key], ddof=1))
        typical = float(np.sqrt(np.mean(np.square(errors[key]))))
        width = spread / typical
        uncertainty = width / np.sqrt(2 * (args.replicas - 1))
        print(f"| {key} | {np.mean(values[key]):.4g} | {spread:.3g} | {typical:.3g} | "
              f"{width:.2f} | {uncertainty:.2f} |")


if __name__ == "__main__":
    main()
