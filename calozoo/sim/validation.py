"""Facts measured on real Geant4 showers of the CLIC W/Si ECAL, and the same observables
computed on simulated showers, so that the reference detector can be checked against them.

The facts come from 100 real LCD/CLIC showers (photons 13–457 GeV, π0 46–481 GeV; ~5 mm cells,
25 layers, perpendicular, entering near the grid centre).
"""

from __future__ import annotations

import dataclasses

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
LONGITUDINAL_BINS = ((0, 100), (100, 200), (200, 300), (300, 500))
"""Primary-energy bins (GeV) of the longitudinal facts; 15 / 29 / 18 / 38 real showers."""
GEANT4_SHOWERS_PER_BIN = (15, 29, 18, 38)
GEANT4_MEAN_DEPTH = (13.55, 14.15, 14.22, 15.01)
"""Energy-weighted mean of (layer + 0.5), averaged over showers, per longitudinal bin."""
GEANT4_MEAN_DEPTH_SPREAD = (1.30, 1.16, 0.93, 1.23)
"""Shower-to-shower standard deviation of the mean depth (layers)."""
GEANT4_RMS_DEPTH = (4.45, 4.33, 4.48, 4.35)
"""Energy-weighted standard deviation of (layer + 0.5) per shower, averaged (layers)."""
GEANT4_FIRST_FIVE_FRACTION = (0.025, 0.016, 0.018, 0.011)
GEANT4_LAST_THREE_FRACTION = (0.043, 0.044, 0.047, 0.064)
GEANT4_LAST_LAYER_BY_BIN = (0.012, 0.012, 0.013, 0.019)
GEANT4_RESPONSE_SPREAD = (0.093, 0.084, 0.061, 0.082)
"""Relative spread of ΣECAL/E within each (100 GeV wide, γ + π0) bin: an upper bound on the
resolution."""
GEANT4_NONZERO_BY_BIN = (0.042, 0.082, 0.110, 0.132)
"""Fraction of non-zero cells per longitudinal bin."""
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


def depth_moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per shower, the energy-weighted mean and standard deviation of (layer + 0.5)."""
    longitudinal = images.reshape(len(images), -1, images.shape[-1]).sum(axis=1,
                                                                         dtype=np.float64)
    total = longitudinal.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    depth = np.arange(images.shape[-1]) + 0.5
    mean = (longitudinal * depth).sum(axis=1) / safe
    variance = (longitudinal * (depth[None, :] - mean[:, None]) ** 2).sum(axis=1) / safe
    return mean, np.sqrt(np.maximum(variance, 0.0))


def per_shower_facts(images: np.ndarray, energies: np.ndarray) -> dict[str, np.ndarray]:
    """The per-shower quantities behind the real facts (arrays of length N)."""
    total = images.reshape(len(images), -1).sum(axis=1, dtype=np.float64)
    longitudinal = images.reshape(len(images), -1, images.shape[-1]).sum(axis=1,
                                                                         dtype=np.float64)
    safe = np.where(total > 0, total, 1.0)
    mean_depth, rms_depth = depth_moments(images)
    inside = containment(images)
    return {
        "response": total / energies,
        "shower_max_layer": longitudinal.argmax(axis=1).astype(np.float64),
        "mean_depth": mean_depth,
        "rms_depth": rms_depth,
        "first_five_fraction": longitudinal[:, :5].sum(axis=1) / safe,
        "last_three_fraction": longitudinal[:, -3:].sum(axis=1) / safe,
        "last_layer_fraction": longitudinal[:, -1] / safe,
        "nonzero_fraction": (images.reshape(len(images), -1) > 0).mean(axis=1),
        **{f"containment_r{radius}": inside[:, index]
           for index, radius in enumerate(CONTAINMENT_RADII)},
    }


@dataclasses.dataclass(frozen=True)
class Fact:
    """A real-Geant4 fact: one value per primary-energy bin (GeV) or over all energies."""

    name: str
    quantity: str
    bins: tuple[tuple[float, float], ...]
    geant4: tuple[float, ...]
    unit: str
    statistic: str = "mean"
    """"mean" of the per-shower quantity, or "spread" (its standard deviation; "relative
    spread" divides by the mean)."""


def real_facts(low: float = 0.0, high: float = 500.0) -> list[Fact]:
    """The SPEC §5 facts whose energy bins lie within [low, high] GeV."""
    whole = ((100.0, 500.0),)
    facts = [
        Fact("response", "response", SAMPLING_FRACTION_BINS, GEANT4_SAMPLING_FRACTION,
             "GeV/GeV"),
        Fact("layer of the shower maximum", "shower_max_layer", SHOWER_MAX_BINS,
             GEANT4_SHOWER_MAX, "layer (0-based)"),
        Fact("mean depth", "mean_depth", LONGITUDINAL_BINS, GEANT4_MEAN_DEPTH, "layers"),
        Fact("spread of the mean depth", "mean_depth", LONGITUDINAL_BINS,
             GEANT4_MEAN_DEPTH_SPREAD, "layers", "spread"),
        Fact("RMS depth", "rms_depth", LONGITUDINAL_BINS, GEANT4_RMS_DEPTH, "layers"),
        Fact("energy in the first five layers", "first_five_fraction", LONGITUDINAL_BINS,
             GEANT4_FIRST_FIVE_FRACTION, "fraction"),
        Fact("energy in the last three layers", "last_three_fraction", LONGITUDINAL_BINS,
             GEANT4_LAST_THREE_FRACTION, "fraction"),
        Fact("energy in the last layer", "last_layer_fraction", LONGITUDINAL_BINS,
             GEANT4_LAST_LAYER_BY_BIN, "fraction"),
        Fact("relative spread of the response", "response", LONGITUDINAL_BINS,
             GEANT4_RESPONSE_SPREAD, "fraction", "relative spread"),
        Fact("non-zero cells", "nonzero_fraction", LONGITUDINAL_BINS, GEANT4_NONZERO_BY_BIN,
             "fraction"),
        *(Fact(f"containment within R = {radius} cells", f"containment_r{radius}", whole,
               (value,), "fraction")
          for radius, value in zip(CONTAINMENT_RADII, GEANT4_CONTAINMENT)),
    ]
    selected = []
    for fact in facts:
        keep = [index for index, (bin_low, bin_high) in enumerate(fact.bins)
                if bin_low >= low and bin_high <= high]
        if keep:
            selected.append(dataclasses.replace(
                fact, bins=tuple(fact.bins[i] for i in keep),
                geant4=tuple(fact.geant4[i] for i in keep)))
    return selected


def _statistic(values: np.ndarray, statistic: str) -> tuple[float, float]:
    """The statistic of ``values`` and its standard error (normal approximation)."""
    count = len(values)
    if count < 2:
        return float("nan"), float("nan")
    mean, spread = float(values.mean()), float(values.std(ddof=1))
    if statistic == "mean":
        return mean, spread / np.sqrt(count)
    error = spread / np.sqrt(2 * (count - 1))
    if statistic == "spread":
        return spread, error
    relative = spread / mean
    return relative, relative * np.sqrt(1 / (2 * (count - 1)) + (spread / mean) ** 2 / count)


def measure_facts(showers: Showers, facts: list[Fact] | None = None) -> list[dict]:
    """Each fact on ``showers`` beside the real value: one row per fact and energy bin.

    Rows: ``{"fact", "bin_gev", "geant4", "value", "error", "unit", "showers"}`` where error
    is the statistical (standard) error of the value from the number of showers in the bin.
    """
    images = np.asarray(showers.images)
    energies = np.asarray(showers.energies, dtype=np.float64)
    per_shower = per_shower_facts(images, energies)
    rows = []
    for fact in facts if facts is not None else real_facts():
        for (low, high), real in zip(fact.bins, fact.geant4):
            selected = (energies >= low) & (energies < high if high < 500 else
                                            energies <= high)
            value, error = _statistic(per_shower[fact.quantity][selected], fact.statistic)
            rows.append({"fact": fact.name, "bin_gev": [low, high], "geant4": real,
                         "value": value, "error": error, "unit": fact.unit,
                         "showers": int(selected.sum())})
    return rows
