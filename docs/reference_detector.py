"""Draw and tabulate the reference detector against real Geant4 CLIC showers.

Usage: python docs/reference_detector.py [-n 4000]  (needs matplotlib: pip install 'calozoo[hep]')
Writes docs/reference-detector.png and prints the Markdown table of docs/reference-detector.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from calozoo.sim import DETECTORS, simulate  # noqa: E402
from calozoo.sim import validation as facts  # noqa: E402
from calozoo.sim.calibration import LOWEST_REAL_GEV, TOLERANCES  # noqa: E402

SHOWN = {
    "response": ("ΣE / E [MeV/GeV]", 1e3, "±10%"),
    "layer of the shower maximum": ("layer (0-based)", 1.0, None),
    "mean depth": ("energy-weighted mean of layer + 0.5", 1.0, None),
    "spread of the mean depth": ("shower-to-shower std [layers]", 1.0, None),
    "RMS depth": ("energy-weighted RMS [layers]", 1.0, None),
    "energy in the first five layers": ("fraction", 1.0, None),
    "energy in the last three layers": ("fraction", 1.0, None),
    "non-zero cells": ("fraction", 1.0, None),
}
REAL_ERRORS = {
    # statistical errors of the real facts that SPEC §5 lets one compute
    "mean depth": np.array(facts.GEANT4_MEAN_DEPTH_SPREAD)
    / np.sqrt(facts.GEANT4_SHOWERS_PER_BIN),
    "spread of the mean depth": np.array(facts.GEANT4_MEAN_DEPTH_SPREAD)
    / np.sqrt(2 * (np.array(facts.GEANT4_SHOWERS_PER_BIN) - 1)),
}


def tolerance(fact: str, real: np.ndarray) -> np.ndarray | None:
    if fact in TOLERANCES:
        return np.full(len(real), TOLERANCES[fact])
    if fact == "response":
        return 0.10 * real
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=4000)
    args = parser.parse_args()
    energies = np.random.default_rng(3).uniform(LOWEST_REAL_GEV, 500, args.n)
    photons = simulate(energies, particle="photon", seed=11)
    electrons = simulate(energies, particle="electron", seed=12)
    rows = facts.measure_facts(photons)
    by_fact: dict[str, list[dict]] = {}
    for row in rows:
        by_fact.setdefault(row["fact"], []).append(row)

    figure, axes = plt.subplots(3, 3, figsize=(15, 12))
    for axis, (fact, (label, scale, band_label)) in zip(axes.flat, SHOWN.items()):
        selected = by_fact[fact]
        centres = np.array([0.5 * sum(row["bin_gev"]) for row in selected])
        widths = np.array([0.5 * (row["bin_gev"][1] - row["bin_gev"][0]) for row in selected])
        real = np.array([row["geant4"] for row in selected])
        value = np.array([row["value"] for row in selected])
        error = np.array([row["error"] for row in selected])
        allowed = tolerance(fact, real)
        if allowed is not None:
            axis.fill_between(centres, (real - allowed) * scale, (real + allowed) * scale,
                              color="0.88", step=None,
                              label=band_label or f"tolerance ±{allowed[0]:g}")
        real_error = REAL_ERRORS.get(fact)
        axis.errorbar(centres, real * scale, xerr=widths,
                      yerr=None if real_error is None else real_error * scale, fmt="ko",
                      capsize=3, label="Geant4, real CLIC γ/π0"
                      + ("" if real_error is not None else " (no error given)"))
        axis.errorbar(centres, value * scale, xerr=widths, yerr=error * scale, fmt="rs",
                      capsize=3, label="calozoo clic-wsi γ (stat. error)")
        axis.set(xlabel="primary energy [GeV]", ylabel=label, title=fact)
        axis.legend(fontsize=7)

    axis = axes.flat[-1]
    layers = np.arange(photons.images.shape[-1])
    high = photons.energies >= 100
    for showers, style, name in ((photons, "r", "γ"), (electrons, "b", "e−")):
        selected = showers.images[showers.energies >= 100]
        energy = selected.sum(axis=(1, 2))
        fractions = energy / energy.sum(axis=1, keepdims=True)
        axis.errorbar(layers, fractions.mean(axis=0),
                      yerr=fractions.std(axis=0, ddof=1) / np.sqrt(len(fractions)), fmt=style,
                      drawstyle="steps-mid", capsize=2, label=f"clic-wsi {name}, 100–500 GeV")
    clic = DETECTORS["clic-wsi"]
    axis.axvline(clic.layers - clic.back_layers - 0.5, color="0.5", ls=":",
                 label="back section (thicker W)")
    axis.set(xlabel="layer", ylabel="mean energy fraction",
             title=f"longitudinal profile ({high.sum()} γ / {high.sum()} e−)")
    axis.legend(fontsize=7)
    figure.suptitle(f"Reference detector clic-wsi (GFlash, 25×25×25, {args.n} showers per "
                    f"particle, {LOWEST_REAL_GEV:g}–500 GeV) against real Geant4 CLIC facts")
    figure.tight_layout()
    output = Path(__file__).with_name("reference-detector.png")
    figure.savefig(output, dpi=150)

    print("| observable | energy bin [GeV] | Geant4 | clic-wsi γ | tolerance |")
    print("|---|---|---|---|---|")
    for row in rows:
        low, high_bin = row["bin_gev"]
        allowed = tolerance(row["fact"], np.array([row["geant4"]]))
        print(f"| {row['fact']} | {low:g}–{high_bin:g} | {row['geant4']:.4g} | "
              f"{row['value']:.4g} ± {row['error']:.2g} | "
              f"{'' if allowed is None else f'±{allowed[0]:.3g}'} |")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
