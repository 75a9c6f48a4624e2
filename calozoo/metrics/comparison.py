"""``compare(reference, generated)``: every scalar result, energy-binned where the paper bins."""

from __future__ import annotations

import numpy as np

from calozoo.metrics import distances
from calozoo.metrics.observables import mu90_sigma90
from calozoo.metrics.summary import ENERGY_BINS, Summary, bin_label, high_level_features, \
    summarise

SEPARATED = ("total_energy", "sampling_fraction", "hits", "m1_x", "m1_y", "m1_z", "m2_x",
             "m2_y", "m2_z", "m3_z", "shower_max_layer", "measured_angle")
ANGLE_BINS = ((60.0, 75.0), (75.0, 90.0), (90.0, 105.0), (105.0, 120.0))


def energy_bins(summary: Summary) -> dict[str, np.ndarray]:
    """Selections of the paper's energy bins that hold showers, plus 'all'."""
    bins = {"all": np.ones(len(summary), bool)}
    for low, high in ENERGY_BINS:
        selected = (summary.energies >= low) & (summary.energies <= high)
        if selected.sum() >= 2:
            bins[bin_label(low, high)] = selected
    return bins


def _check_compatible(reference: Summary, generated: Summary) -> None:
    if reference.shape != generated.shape:
        raise ValueError(f"the samples have different geometries: reference "
                         f"{reference.shape}, generated {generated.shape}")
    if (reference.angles is None) != (generated.angles is None):
        raise ValueError("one sample has angles and the other has none")


def compare(reference, generated, *, classifier: bool = True, progress: bool = False,
            batch_size: int = 1000) -> dict[str, float]:
    """Compare two samples (Showers, (images, energies[, angles]) or file paths).

    Returns a flat dict of scalars: per energy bin the response μ90 (ΣE/Ep) and resolution
    σ90/μ90 of both samples and their ratios, mean hits; separation powers of the observables
    and of the cell spectrum; the paper's projection MSE and SSIM (L = 1e-4) of the mean
    projections; FPD and KPD with errors; the classifier AUC.
    """
    ref = reference if isinstance(reference, Summary) else summarise(
        reference, batch_size=batch_size, progress=progress, name="reference")
    gen = generated if isinstance(generated, Summary) else summarise(
        generated, batch_size=batch_size, progress=progress, name="generated")
    _check_compatible(ref, gen)
    result: dict[str, float] = {"n_reference": float(len(ref)), "n_generated": float(len(gen))}
    ref_bins, gen_bins = energy_bins(ref), energy_bins(gen)
    for label in ref_bins:
        if label not in gen_bins:
            continue
        for tag, summary, selected in (("reference", ref, ref_bins[label]),
                                       ("generated", gen, gen_bins[label])):
            mu, sigma = mu90_sigma90(summary.features["sampling_fraction"][selected])
            result[f"response_mu90/{tag}/{label}"] = mu
            result[f"resolution/{tag}/{label}"] = sigma / mu if mu else float("nan")
            result[f"hits_mean/{tag}/{label}"] = float(summary.features["hits"][selected].mean())
        for key in ("response_mu90", "resolution", "hits_mean"):
            reference_value = result[f"{key}/reference/{label}"]
            result[f"{key}/ratio/{label}"] = (result[f"{key}/generated/{label}"]
                                              / reference_value if reference_value else
                                              float("nan"))
        if label == "all":
            continue
        result[f"separation/total_energy/{label}"] = distances.histogram_separation(
            ref.features["total_energy"][ref_bins[label]],
            gen.features["total_energy"][gen_bins[label]])
    for key in SEPARATED:
        if key in ref.features and key in gen.features:
            result[f"separation/{key}"] = distances.histogram_separation(
                ref.features[key][np.isfinite(ref.features[key])],
                gen.features[key][np.isfinite(gen.features[key])])
    if ref.cell_counts.sum() and gen.cell_counts.sum():
        result["separation/cell_spectrum"] = distances.separation_power(ref.cell_counts,
                                                                        gen.cell_counts)
    if ref.angles is not None:
        for low, high in ANGLE_BINS:
            ref_sel = (ref.angles >= low) & (ref.angles < high)
            gen_sel = (gen.angles >= low) & (gen.angles < high)
            if ref_sel.sum() >= 2 and gen_sel.sum() >= 2:
                label = f"{low:g}-{high:g}deg"
                result[f"measured_angle_mean/reference/{label}"] = float(
                    np.nanmean(ref.features["measured_angle"][ref_sel]))
                result[f"measured_angle_mean/generated/{label}"] = float(
                    np.nanmean(gen.features["measured_angle"][gen_sel]))
    if ref.is_grid:
        for label, projections in ref.mean_projections.items():
            if label not in gen.mean_projections:
                continue
            other = gen.mean_projections[label]
            result[f"projection_mse/{label}"] = distances.projection_mse(projections, other)
            result[f"ssim/{label}"] = float(np.mean(
                [distances.ssim(a, b) for a, b in zip(projections, other)]))
        ref_features, gen_features = high_level_features(ref), high_level_features(gen)
        mean, std = ref_features.mean(axis=0), ref_features.std(axis=0) + 1e-12
        ref_scaled, gen_scaled = (ref_features - mean) / std, (gen_features - mean) / std
        if min(len(ref), len(gen)) >= 20:
            result["fpd"], result["fpd_error"] = distances.fpd(ref_scaled, gen_scaled)
            result["kpd"], result["kpd_error"] = distances.kpd(ref_scaled, gen_scaled)
        if classifier and min(len(ref), len(gen)) >= 20:
            result["classifier_auc"] = distances.classifier_auc(ref_features, gen_features)
    return result
