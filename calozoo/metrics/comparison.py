"""``compare(reference, generated)``: every scalar result, energy-binned where the paper bins."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from calozoo.metrics import distances
from calozoo.metrics.observables import mu90_sigma90, rms90
from calozoo.metrics.summary import ENERGY_BINS, REPLICAS, Summary, bin_label, \
    high_level_features, summarise

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


BOOTSTRAP = 100
"""Bootstrap replicas behind the errors of :func:`compare`."""


def _responses(values: np.ndarray) -> dict[str, float]:
    mu, sigma = mu90_sigma90(values)
    mean, rms = rms90(values)
    return {"response_mu90": mu, "resolution": sigma / mu if mu else float("nan"),
            "response_rms90": mean, "resolution_rms90": rms / mean if mean else float("nan")}


def spread(values) -> float:
    """Standard deviation (ddof 1) of the finite values; NaN for fewer than two."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1)) if len(values) > 1 else float("nan")


def _values(summary: Summary, rows: dict, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A separation key's finite feature values (rows of its energy bin) and their primary
    energies."""
    _, feature, *label = key.split("/")
    selected = rows[label[0] if label else "all"]
    values, energies = summary.features[feature][selected], summary.energies[selected]
    finite = np.isfinite(values)
    return values[finite], energies[finite]


def _histogram(summary: Summary, rows: dict, key: str, edges: dict) -> np.ndarray:
    """Counts of a separation key's feature (rows of its energy bin) on its fixed bins."""
    values, _ = _values(summary, rows, key)
    bins = edges[key.removeprefix("separation/")]
    return np.histogram(np.clip(values, bins[0], bins[-1]), bins)[0]


def _scalars(ref: Summary, gen: Summary, ref_rows: dict, gen_rows: dict, edges: dict,
             separations: bool = True) -> dict[str, float]:
    """The bootstrap-able results for one choice of showers (row indices per energy bin;
    "all" for the whole sample); the separation powers only with ``separations``."""
    result: dict[str, float] = {}
    for label in ref_rows:
        if label not in gen_rows:
            continue
        for tag, summary, rows in (("reference", ref, ref_rows[label]),
                                   ("generated", gen, gen_rows[label])):
            for key, value in _responses(summary.features["sampling_fraction"][rows]).items():
                result[f"{key}/{tag}/{label}"] = value
            result[f"hits_mean/{tag}/{label}"] = float(summary.features["hits"][rows].mean())
        for key in (*RESPONSES, "hits_mean"):
            reference_value = result[f"{key}/reference/{label}"]
            result[f"{key}/ratio/{label}"] = (result[f"{key}/generated/{label}"]
                                              / reference_value if reference_value else
                                              float("nan"))
        if separations and label != "all":
            result[f"separation/total_energy/{label}"] = distances.histogram_separation(
                ref.features["total_energy"][ref_rows[label]],
                gen.features["total_energy"][gen_rows[label]],
                edges=edges[f"total_energy/{label}"])
    for key in SEPARATED if separations else ():
        if key in ref.features and key in gen.features:
            reference = ref.features[key][ref_rows["all"]]
            generated = gen.features[key][gen_rows["all"]]
            result[f"separation/{key}"] = distances.histogram_separation(
                reference[np.isfinite(reference)], generated[np.isfinite(generated)],
                edges=edges[key])
    return result


STRATUM = 16
"""Showers per energy stratum of the whole-sample bootstrap: resampling within neighbours in
energy keeps each sample's mix of energies, as a sample generated or simulated at chosen
energies has it."""


def _sorted_by_energy(energies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by energy, and the sorted positions where a gap in energy wider than 10×
    the median spacing (the gap between two bins of a binned sample) begins."""
    order = np.argsort(energies, kind="stable")
    spacing = np.diff(energies[order])
    typical = np.median(spacing) if spacing.size else 0.0
    breaks = np.nonzero(spacing > 10 * typical)[0] + 1 if typical > 0 else np.array([], int)
    return order, breaks


def _strata(energies: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by energy, and for each sorted position the start and size of its
    stratum. Strata do not straddle a gap in energy wider than 10× the median spacing (the
    gap between two bins of a binned sample)."""
    order, breaks = _sorted_by_energy(energies)
    bounds = [0]
    for low, high in zip([0, *breaks], [*breaks, len(order)]):
        count = max(1, (high - low) // STRATUM)
        bounds += list(np.linspace(low, high, count + 1).astype(np.int64)[1:])
    bounds = np.asarray(bounds, dtype=np.int64)
    sizes = np.diff(bounds)
    return order, np.repeat(bounds[:-1], sizes), np.repeat(sizes, sizes)


def _stratum_members(energies: np.ndarray, size: int) -> list[np.ndarray]:
    """Rows in groups of about ``size`` neighbours in energy that, like :func:`_strata`, do not
    straddle a gap between energy bins (a permutation within them keeps each sample's number
    of showers per bin)."""
    order, breaks = _sorted_by_energy(energies)
    groups = []
    for part in np.split(order, breaks):
        groups += np.array_split(part, max(1, len(part) // size))
    return groups


def _resample_strata(strata, rng: np.random.Generator) -> np.ndarray:
    order, starts, sizes = strata
    return order[starts + (rng.random(len(order)) * sizes).astype(np.int64)]


def _resample(rows: dict[str, np.ndarray], strata, rng: np.random.Generator
              ) -> dict[str, np.ndarray]:
    """Bootstrap rows: within each energy bin, and for "all" within energy strata."""
    resampled = {label: part[rng.integers(0, len(part), len(part))]
                 for label, part in rows.items() if label != "all"}
    resampled["all"] = _resample_strata(strata, rng)
    return resampled


RESPONSES = ("response_mu90", "resolution", "response_rms90", "resolution_rms90")


DISTANCE_BOOTSTRAP = 20
"""Bootstrap replicas behind the FPD error (each replica reruns the estimator)."""


def _fpd_error(reference: np.ndarray, generated: np.ndarray, ref_energies: np.ndarray,
               gen_energies: np.ndarray, replicas: int, seed: int) -> float:
    """FPD's standard error, built as a separation power's is: the noise floor (the spread of
    FPD over permutations of the pooled showers within energy strata) plus what a bootstrap
    over showers adds beyond twice the floor's variance, which the resampling's own noise
    (repeated showers) puts into it. Two samples of one distribution get the floor; for
    different ones the bootstrap's spread dominates."""
    rng = np.random.default_rng(seed + 1)
    strata = _strata(ref_energies), _strata(gen_energies)
    resampled = []
    for _ in range(replicas):
        rows = [_resample_strata(groups, rng) for groups in strata]
        resampled.append(distances.fpd(reference[rows[0]], generated[rows[1]])[0])
    pooled = np.concatenate([reference, generated])
    labels = np.r_[np.zeros(len(reference), bool), np.ones(len(generated), bool)]
    groups = _stratum_members(np.r_[ref_energies, gen_energies], 2 * STRATUM)
    permuted = []
    for _ in range(replicas):
        shuffled = distances.permuted_within(labels, groups, rng)
        permuted.append(distances.fpd(pooled[~shuffled], pooled[shuffled])[0])
    return distances.floor_plus_excess(spread(permuted) ** 2, spread(resampled) ** 2, 2.0)


def _projection_ssim(reference: tuple, generated: tuple) -> float:
    """The seed paper's SSIM of the mean x, y and z projections, averaged over the three."""
    return float(np.mean([distances.ssim(a, b) for a, b in zip(reference, generated)]))


def _replicated_error(distance, reference: np.ndarray, generated: np.ndarray,
                      reference_deviations: np.ndarray | None,
                      generated_deviations: np.ndarray | None, reference_count: int,
                      generated_count: int) -> float:
    """Standard error of ``distance(reference, generated)``, a distance between two samples'
    mean vectors, from the bootstrap deviations of the means (``Summary``'s replicas).

    Built as a separation power's: the noise floor is the distance's spread when both means
    are the pooled mean plus their own deviations (two samples of one distribution), and the
    bootstrap's spread adds what a real difference contributes. For a distance quadratic in
    the difference of the means, the bootstrap variance is in expectation that linear part
    plus three times the floor's variance (the observed difference carries the noise once,
    the replica once more, and the quadratic term its own), so three are taken off. The
    replicas' double-or-nothing weights make that exact for a quadratic distance of Gaussian
    means; FPD's multinomial bootstrap (:func:`_fpd_error`), whose repeated showers add noise
    of their own, takes off two, as measured in ``benchmarks/metric_pulls.py``.
    """
    if reference_deviations is None or generated_deviations is None:
        return float("nan")
    replicas = min(len(reference_deviations), len(generated_deviations))
    if replicas < 2:
        return float("nan")
    pooled = ((reference_count * reference + generated_count * generated)
              / (reference_count + generated_count))
    floor, resampled = [], []
    for ref_deviation, gen_deviation in zip(reference_deviations[:replicas],
                                            generated_deviations[:replicas]):
        floor.append(distance(pooled + ref_deviation, pooled + gen_deviation))
        resampled.append(distance(reference + ref_deviation, generated + gen_deviation))
    return distances.floor_plus_excess(spread(floor) ** 2, spread(resampled) ** 2, 3.0)


def _spectrum_separation(reference: np.ndarray, generated: np.ndarray) -> float:
    """Separation power of two mean cell spectra (counts per shower; a replica's bins may
    dip below zero, and are taken as empty)."""
    return distances.separation_power(np.clip(reference, 0.0, None),
                                      np.clip(generated, 0.0, None))


def _flat(projections) -> np.ndarray:
    """The x, y and z projections flattened and side by side (the layout of
    ``Summary.projection_replicas``)."""
    return np.concatenate([np.ravel(part) for part in projections])


def _on_flat(distance, reference: np.ndarray, generated: np.ndarray, like) -> float:
    """``distance`` of two sets of projections given side by side (:func:`_flat`), split back
    into the shapes of ``like``."""
    sizes = np.cumsum([np.size(part) for part in like])[:-1]

    def split(vector):
        return tuple(part.reshape(np.shape(shaped))
                     for part, shaped in zip(np.split(vector, sizes), like))

    return distance(split(reference), split(generated))


def _calochallenge(result: dict[str, float], ref: Summary, gen: Summary, classifier: bool,
                   seed: int) -> None:
    """Replace the separation powers, FPD, KPD and classifier by CaloChallenge's."""
    from calozoo.metrics import calochallenge

    for key in [key for key in result if key.startswith("separation/")]:
        del result[key]
    for name, (value, error) in calochallenge.separation_powers(ref, gen).items():
        result[f"separation/{name}"], result[f"separation/{name}_error"] = value, error
    ref_features, gen_features = calochallenge.features(ref), calochallenge.features(gen)
    result["fpd"], result["fpd_error"] = calochallenge.fpd(ref_features, gen_features)
    result["kpd"], result["kpd_error"] = calochallenge.kpd(ref_features, gen_features)
    if classifier and ref.images is not None and gen.images is not None and \
            min(len(ref.images), len(gen.images)) >= 10:
        scores = calochallenge.classifier(ref.images, ref.energies[:len(ref.images)],
                                          gen.images, gen.energies[:len(gen.images)],
                                          seed=seed)
        result["classifier_auc"], result["classifier_auc_error"] = scores["auc"], \
            scores["auc_error"]
        result["classifier_jsd"], result["classifier_jsd_error"] = scores["jsd"], \
            scores["jsd_error"]


def compare(reference, generated, *, classifier: bool = True, progress: bool = False,
            batch_size: int = 1000, bootstrap: int = BOOTSTRAP, seed: int = 0,
            convention: str = "calozoo") -> dict[str, float]:
    """Compare two samples (Showers, (images, energies[, angles]) or file paths).

    Returns a flat dict of scalars: per energy bin the response (ΣE/Ep) and resolution of
    both samples and their ratios, as μ90 and σ90/μ90 (symmetric 5% trims, the seed paper's)
    and as rms90 (the narrowest window holding 90%), and the mean number of hits; separation
    powers of the observables and of the cell spectrum; the paper's projection MSE and SSIM
    (L = 1e-4 GeV) of the mean projections; ``ssim_layers``, the 3DGAN analysis's per-shower,
    per-layer Gaussian-window SSIM (:func:`~calozoo.metrics.distances.layer_ssim`) of the first
    ``summary.IMAGE_SAMPLE`` showers of each sample paired by rank in energy, with L the
    reference's largest cell in GeV; FPD and KPD; the classifier AUC.

    Every value ``key`` comes with ``key + "_error"``, its standard error: from ``bootstrap``
    replicas that resample the showers of both samples (within each energy bin; seeded by
    ``seed``), from the estimator itself for FPD and KPD (JetNet's), and from the test-set
    sizes for the AUC (Hanley–McNeil). The cell-spectrum separation power and the projection
    MSE and SSIM take theirs from the bootstrap replicas of the mean cell spectrum and
    mean projections that :func:`~calozoo.metrics.summarise` keeps (``summary.REPLICAS``,
    seeded by ``seed`` and ``seed + 1`` when ``compare`` summarises the samples itself), as a
    noise floor plus what a real difference adds; within an energy bin they count the two
    samples' energies as drawn independently, so for showers generated at the reference's
    very energies they are somewhat conservative.
    ``bootstrap=0`` gives no errors.

    ``convention="calochallenge"`` computes FPD, KPD, the separation powers and the classifier
    as the CaloChallenge evaluation does (:mod:`calozoo.metrics.calochallenge`: its feature
    set and scaling, JetNet's estimators and errors, its binning, its cell-level classifier
    with AUC and JSD), so that they can be set beside published tables. The default
    ``"calozoo"`` keeps estimators made for small samples: FPD and KPD on z-scored features
    with every draw without replacement (JetNet's defaults draw 20,000–50,000 showers with
    replacement, which repeats showers of a sample of a few thousand), separation powers on
    √N bins that adapt to the sample, the classifier on high-level features.
    """
    if convention not in ("calozoo", "calochallenge"):
        raise ValueError(f"convention must be 'calozoo' or 'calochallenge', got {convention!r}")
    replicas = REPLICAS if bootstrap else 0
    ref = reference if isinstance(reference, Summary) else summarise(
        reference, batch_size=batch_size, progress=progress, name="reference", seed=seed,
        replicas=replicas)
    gen = generated if isinstance(generated, Summary) else summarise(
        generated, batch_size=batch_size, progress=progress, name="generated", seed=seed + 1,
        replicas=replicas)
    _check_compatible(ref, gen)
    if bootstrap and ref.replica_seed is not None and ref.replica_seed == gen.replica_seed:
        warnings.warn(f"both samples were summarised with seed {ref.replica_seed}: their "
                      "bootstrap replicas share weights, which can make the errors of the "
                      "cell spectrum and projections too small; give summarise() different "
                      "seeds", stacklevel=2)
    result: dict[str, float] = {"n_reference": float(len(ref)), "n_generated": float(len(gen))}
    ref_rows = {label: np.nonzero(selected)[0] for label, selected in energy_bins(ref).items()}
    gen_rows = {label: np.nonzero(selected)[0] for label, selected in energy_bins(gen).items()}
    edges = {}
    for label in ref_rows:
        if label in gen_rows and label != "all":
            edges[f"total_energy/{label}"] = distances.separation_edges(
                ref.features["total_energy"][ref_rows[label]],
                gen.features["total_energy"][gen_rows[label]])
    for key in SEPARATED:
        if key in ref.features and key in gen.features:
            reference, generated = ref.features[key], gen.features[key]
            edges[key] = distances.separation_edges(reference[np.isfinite(reference)],
                                                    generated[np.isfinite(generated)])
    nominal = _scalars(ref, gen, ref_rows, gen_rows, edges)
    result.update(nominal)
    if bootstrap:
        rng = np.random.default_rng(seed)
        strata = [_strata(ref.energies), _strata(gen.energies)]
        separations = [key for key in nominal if key.startswith("separation/")]
        replicas = {key: [] for key in nominal if key not in separations}
        histograms = {key: ([], []) for key in separations}
        for _ in range(bootstrap):
            resampled = [_resample(rows, groups, rng)
                         for rows, groups in zip((ref_rows, gen_rows), strata)]
            for key, value in _scalars(ref, gen, *resampled, edges,
                                       separations=False).items():
                replicas[key].append(value)
            for key in separations:
                for index, (summary, rows) in enumerate(zip((ref, gen), resampled)):
                    histograms[key][index].append(_histogram(summary, rows, key, edges))
        for key, values in replicas.items():
            result[f"{key}_error"] = spread(values)
        # A separation power is a sum of squares: the spread of its bootstrap replicas adds
        # the resampling's own noise floor to the samples' (pull width ~0.6). Its error
        # is the noise floor plus the linear error of a real difference instead, with the
        # histograms' variances from the resampled histograms.
        for key in separations:
            reference, ref_energies = _values(ref, ref_rows, key)
            generated, gen_energies = _values(gen, gen_rows, key)
            strata = _stratum_members(np.r_[ref_energies, gen_energies], 2 * STRATUM)
            result[f"{key}_error"] = distances.separation_power_error_resampled(
                reference, generated, edges[key.removeprefix("separation/")], strata,
                *histograms[key], seed=seed)
    if ref.cell_counts.sum() and gen.cell_counts.sum():
        result["separation/cell_spectrum"] = distances.separation_power(ref.cell_counts,
                                                                        gen.cell_counts)
        result["separation/cell_spectrum_error"] = _replicated_error(
            _spectrum_separation, ref.cell_counts / len(ref), gen.cell_counts / len(gen),
            *[summary.cell_spectrum_replicas if bootstrap else None for summary in (ref, gen)],
            len(ref), len(gen))
    if ref.angles is not None:
        for low, high in ANGLE_BINS:
            ref_sel = (ref.angles >= low) & (ref.angles < high)
            gen_sel = (gen.angles >= low) & (gen.angles < high)
            if ref_sel.sum() >= 2 and gen_sel.sum() >= 2:
                label = f"{low:g}-{high:g}deg"
                for tag, summary, selected in (("reference", ref, ref_sel),
                                               ("generated", gen, gen_sel)):
                    values = summary.features["measured_angle"][selected]
                    values = values[np.isfinite(values)]
                    key = f"measured_angle_mean/{tag}/{label}"
                    result[key] = float(values.mean()) if values.size else float("nan")
                    result[f"{key}_error"] = (float(values.std(ddof=1) / np.sqrt(values.size))
                                              if values.size > 1 else float("nan"))
    if ref.is_grid:
        for label, projections in ref.mean_projections.items():
            if label not in gen.mean_projections:
                continue
            other = gen.mean_projections[label]
            result[f"projection_mse/{label}"] = distances.projection_mse(projections, other)
            result[f"ssim/{label}"] = _projection_ssim(projections, other)
            arguments = (_flat(projections), _flat(other),
                         *[summary.projection_replicas.get(label) if bootstrap else None
                           for summary in (ref, gen)],
                         ref.bin_counts[label], gen.bin_counts[label])
            for key, distance in (("projection_mse", distances.projection_mse),
                                  ("ssim", _projection_ssim)):
                result[f"{key}/{label}_error"] = _replicated_error(
                    functools.partial(_on_flat, distance, like=projections), *arguments)
        if ref.images is not None and gen.images is not None:
            count = min(len(ref.images), len(gen.images))
            if count >= 2:
                # pairs by rank in primary energy; L = the reference's largest cell [GeV]
                ref_order = np.argsort(ref.energies[:len(ref.images)], kind="stable")[:count]
                gen_order = np.argsort(gen.energies[:len(gen.images)], kind="stable")[:count]
                result["ssim_layers"], result["ssim_layers_error"] = distances.layer_ssim(
                    ref.images[ref_order], gen.images[gen_order],
                    data_range=float(ref.images.max()) or 1.0)
        if convention == "calochallenge":
            _calochallenge(result, ref, gen, classifier, seed)
            return result
        ref_features, gen_features = high_level_features(ref), high_level_features(gen)
        mean, std = ref_features.mean(axis=0), ref_features.std(axis=0) + 1e-12
        ref_scaled, gen_scaled = (ref_features - mean) / std, (gen_features - mean) / std
        if min(len(ref), len(gen)) >= 20:
            result["fpd"], result["fpd_error"] = distances.fpd(ref_scaled, gen_scaled)
            result["kpd"], result["kpd_error"] = distances.kpd(ref_scaled, gen_scaled)
            if bootstrap:
                # FPD's own error describes its sub-sampling of one pair of samples, not the
                # samples' fluctuation (pull width 1.7 in benchmarks/metric_pulls.py).
                result["fpd_error"] = _fpd_error(ref_scaled, gen_scaled, ref.energies,
                                                 gen.energies, min(bootstrap, DISTANCE_BOOTSTRAP),
                                                 seed)
        if classifier and min(len(ref), len(gen)) >= 20:
            value = distances.classifier_auc(ref_features, gen_features)
            result["classifier_auc"] = value
            # the test set is half of each sample (distances.classifier_auc)
            result["classifier_auc_error"] = distances.auc_error(value, len(gen) // 2,
                                                                 len(ref) // 2)
    return result
