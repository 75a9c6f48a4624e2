"""Physics metrics: observables, distances, ``compare`` and the inputs they accept.

Inputs are :class:`calozoo.data.Showers`, ``(images, energies[, angles])`` or file paths;
samples stream through in batches. Energies in GeV, angles in degrees.
"""

from calozoo.metrics.comparison import compare
from calozoo.metrics.distances import (
    auc, auc_error, classifier_auc, fpd, histogram_separation, kpd, projection_mse,
    separation_edges, separation_power, ssim,
)
from calozoo.metrics.observables import (
    HIT_THRESHOLD_GEV, cell_spectra, cell_spectrum, hits, lateral_profile, longitudinal_profile,
    max_position, measured_angle, moments, mu90_sigma90, projections, rms90, sampling_fraction,
    shower_max_layer, sparsity, total_energy,
)
from calozoo.metrics.summary import Summary, high_level_features, summarise

__all__ = [
    "HIT_THRESHOLD_GEV", "Summary", "auc", "auc_error", "cell_spectra", "cell_spectrum",
    "classifier_auc",
    "compare", "fpd",
    "high_level_features", "histogram_separation", "hits", "kpd", "lateral_profile",
    "longitudinal_profile", "max_position", "measured_angle", "moments", "mu90_sigma90",
    "projection_mse", "projections", "rms90", "sampling_fraction", "separation_edges",
    "separation_power",
    "shower_max_layer", "sparsity", "ssim", "summarise", "total_energy",
]
