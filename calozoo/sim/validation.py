"""Facts measured on real Geant4 showers of the CLIC W/Si ECAL, and the same observables
computed on simulated showers, so that the reference detector can be checked against them.

The facts come from 100 real LCD/CLIC showers (photons 13–457 GeV, π0 46–481 GeV; ~5 mm cells,
25 layers, perpendicular, entering near the grid centre).
"""

from __future__ import annotations

import numpy as np

from calozoo.data.showers import Showers

SAMPLING_FRACTION_BINS = ((0, 100), (100, 200), (200, 300), (300, 400), (400, 500))
GEANT4_SAMPLING_FRACTION = (0.0198, 0.0190, 0.0187, 0.0183, 0.0177)
"""Mean ΣECAL/E per primary-energy bin (GeV), i.e. 19.8 … 17.7 MeV/GeV."""
SHOWER_MAX_BINS = ((0, 100), (100, 250), (250, 500))
GEANT4_SHOWER_MAX = (12.7, 13.4, 14.8)
"""Mean 0-based layer of the largest deposit per primary-energy bin (GeV)."""
CONTAINMENT_RADII = (2, 3, 5)
GEANT4_CONTAINMENT = (0.80, 0.90, 0.96)
"""Energy fraction in cells whose centre lies within R cells of the x–y barycentre."""
GEANT4_FIRST_LAYER_FRACTION = 0.0003
GEANT4_LAST_LAYER_FRACTION = 0.015
GEANT4_NONZERO_FRACTION = 1440 / 14400
GEANT4_MEDIAN_CELL_GEV = 0.46e-3
GEANT4_P99_CELL_GEV = 46e-3


def _binned_mean(values: np.ndarray, energies: np.ndarray, bins) -> list[float]:
    means = []
    for low, high in bins:
        selected = (energies >= low) & (energies < high)
        means.append(float(values[selected].mean()) if selected.any() else float("nan"))
    return means


def containment(images: np.ndarray, radii=CONTAINMENT_RADII) -> np.ndarray:
    """Per shower, the energy fraction within each radius (cells) of the x–y barycentre."""
    lateral = images.sum(axis=3)
    total = lateral.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    centres_x = np.arange(lateral.shape[1]) + 0.5
    centres_y = np.arange(lateral.shape[2]) + 0.5
    bar_x = (lateral.sum(axis=2) * centres_x).sum(axis=1) / safe
    bar_y = (lateral.sum(axis=1) * centres_y).sum(axis=1) / safe
    distance = np.hypot(centres_x[None, :, None] - bar_x[:, None, None],
                        centres_y[None, None, :] - bar_y[:, None, None])
    return np.stack([(lateral * (distance <= radius)).sum(axis=(1, 2)) / safe
                     for radius in radii], axis=1)


def compare_with_geant4(showers: Showers) -> dict[str, dict[str, list[float] | float]]:
    """The SPEC §5 observables on ``showers`` next to the Geant4 facts.

    Returns a dict: observable → {"geant4": ..., "simulated": ...}.
    """
    images, energies = showers.images, showers.energies
    total = images.sum(axis=(1, 2, 3))
    longitudinal = images.sum(axis=(1, 2))
    fractions = longitudinal / np.where(total > 0, total, 1.0)[:, None]
    cells = images[images > 0]
    return {
        "sampling_fraction": {
            "geant4": list(GEANT4_SAMPLING_FRACTION),
            "simulated": _binned_mean(total / energies, energies, SAMPLING_FRACTION_BINS)},
        "shower_max_layer": {
            "geant4": list(GEANT4_SHOWER_MAX),
            "simulated": _binned_mean(longitudinal.argmax(axis=1).astype(float), energies,
                                      SHOWER_MAX_BINS)},
        "containment": {
            "geant4": list(GEANT4_CONTAINMENT),
            "simulated": containment(images).mean(axis=0).tolist()},
        "first_layer_fraction": {"geant4": GEANT4_FIRST_LAYER_FRACTION,
                                 "simulated": float(fractions[:, 0].mean())},
        "last_layer_fraction": {"geant4": GEANT4_LAST_LAYER_FRACTION,
                                "simulated": float(fractions[:, -1].mean())},
        "nonzero_fraction": {"geant4": GEANT4_NONZERO_FRACTION,
                             "simulated": float((images > 0).mean())},
        "median_cell_gev": {"geant4": GEANT4_MEDIAN_CELL_GEV,
                            "simulated": float(np.median(cells)) if cells.size else 0.0},
        "p99_cell_gev": {"geant4": GEANT4_P99_CELL_GEV,
                         "simulated": float(np.percentile(cells, 99)) if cells.size else 0.0},
    }
