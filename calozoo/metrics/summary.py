"""One streaming pass over a sample: per-shower features and per-energy-bin accumulators."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator

import numpy as np

from calozoo.data import Showers
from calozoo.metrics import observables as obs

ENERGY_BINS = ((45.0, 55.0), (95.0, 105.0), (195.0, 205.0), (495.0, 505.0))
"""The seed paper's bins: ±5 GeV around 50, 100, 200 and 500 GeV."""
CELL_EDGES = np.logspace(-7, 2, 91)
"""Bins (GeV) of the single-cell energy spectrum."""
BATCH = 1000
IMAGE_SAMPLE = 1000
"""Showers a Summary keeps whole (the first ones), for per-shower SSIM and the cell-level
classifier."""
REPLICAS = 100
"""Bootstrap replicas a Summary keeps of its mean projections and mean cell spectrum (behind
the errors of the projection MSE and SSIM and of the cell-spectrum separation power)."""
_KNOTS = np.arange(-4.0, 17.5, 0.5)
"""log2 of the energy in GeV: knots of the piecewise-linear energy dependence that
:class:`_MeanReplicas` regresses out of the whole sample's replicas (half an octave apart,
1/16 GeV to 131 TeV)."""


def _energy_basis(energies: np.ndarray) -> np.ndarray:
    """(N, knots) hat functions of log2 E: any piecewise-linear function of log E on the
    knots is a linear combination of the columns."""
    position = np.clip(np.log2(energies), _KNOTS[0], _KNOTS[-1])
    return np.clip(1.0 - np.abs(position[:, None] - _KNOTS[None, :]) / 0.5, 0.0, None)


class _MeanReplicas:
    """The mean of a per-shower vector and its bootstrap replicas, in one pass.

    Each shower enters replica r with a weight of 0 or 2 at even odds (the double-or-nothing
    bootstrap, the streaming form of resampling: unlike Poisson weights it adds no spurious
    fourth moment, so that the variance of a quadratic distance over the replicas is not
    biased up). A replica is kept as its deviation from the mean, Σ (w − 1) rᵢ / N, where rᵢ
    is the shower's residual from the mean. With ``energy_trend`` the residual is taken from a
    piecewise-linear function of log E fitted to all the showers at the end: as the strata of
    ``compare()``'s whole-sample bootstrap, this keeps the sample's mix of energies (a sample
    of many energies); without it, the energies vary with the showers (one energy bin).
    """

    def __init__(self, size: int, replicas: int, energy_trend: bool) -> None:
        self.energy_trend = energy_trend
        knots = len(_KNOTS) if energy_trend else 1
        self.count = 0
        self.total = np.zeros(size)
        self.deviation = np.zeros((replicas, size))
        self.basis_by_vector = np.zeros((knots, size))
        self.basis_gram = np.zeros((knots, knots))
        self.basis_deviation = np.zeros((replicas, knots))

    def add(self, vectors: np.ndarray, energies: np.ndarray, weights: np.ndarray) -> None:
        """Showers' ``vectors`` (n, size), their ``energies`` (n,) in GeV and bootstrap
        ``weights`` (replicas, n)."""
        vectors = np.asarray(vectors, np.float64)
        basis = (_energy_basis(np.asarray(energies, np.float64)) if self.energy_trend
                 else np.ones((len(vectors), 1)))
        centred = weights - 1.0
        self.count += len(vectors)
        self.total += vectors.sum(axis=0)
        self.deviation += centred @ vectors
        self.basis_by_vector += basis.T @ vectors
        self.basis_gram += basis.T @ basis
        self.basis_deviation += centred @ basis

    def deviations(self) -> np.ndarray | None:
        """The replicas' deviations from the mean (replicas, size), or None for fewer showers
        than fitted parameters plus one. Scaled by √(N / (N − p)) for the p parameters fitted
        (1 for the plain mean), as the residuals' sum of squares falls short by that much."""
        values, vectors = np.linalg.eigh(self.basis_gram)
        kept = values > values.max() * len(values) * np.finfo(float).eps
        fitted = int(kept.sum())
        if self.count <= fitted:
            return None
        # least squares on the directions the showers span (a pseudo-inverse, with the cut-off
        # that decides the number of fitted parameters)
        inverse = (vectors[:, kept] / values[kept]) @ vectors[:, kept].T
        coefficients = inverse @ self.basis_by_vector
        deviations = (self.deviation - self.basis_deviation @ coefficients) / self.count
        return deviations * np.sqrt(self.count / (self.count - fitted))


def batches_of(source, batch_size: int = BATCH) -> Iterator[Showers]:
    """Batches of Showers from Showers, (images, energies[, angles]), a file path, or an
    iterable of Showers — without copying the whole sample."""
    if isinstance(source, (str, os.PathLike)):
        from calozoo.data import iterate
        yield from iterate(source, batch_size)
        return
    if isinstance(source, tuple):
        source = Showers(*source)
    if isinstance(source, Showers):
        for start in range(0, len(source), batch_size):
            yield source[start:start + batch_size]
        return
    if isinstance(source, Iterable):
        for part in source:
            yield from batches_of(part, batch_size)
        return
    raise TypeError(f"cannot read showers from {type(source).__name__}")


def bin_label(low: float, high: float) -> str:
    return f"{(low + high) / 2:g}GeV"


@dataclasses.dataclass
class Summary:
    """What the metrics need of one sample, accumulated in one pass."""

    shape: tuple[int, ...]
    energies: np.ndarray
    angles: np.ndarray | None
    features: dict[str, np.ndarray]
    cell_counts: np.ndarray
    longitudinal: np.ndarray | None       # per shower (N, Z)
    lateral: np.ndarray | None            # per shower (N, R)
    mean_projections: dict[str, tuple]    # bin label / "all" → (x, y, z) mean projections
    bin_counts: dict[str, int]
    images: np.ndarray | None = None      # the first IMAGE_SAMPLE showers (grids only)
    layer_centres: tuple | None = None    # (x, y) centres of energy per layer, (N, Z) each
    layer_widths: tuple | None = None     # (x, y) widths per layer, (N, Z) each
    # bootstrap deviations (replicas, ...) of the mean projections (label → (replicas, X·Y…):
    # the x, y and z projections flattened and side by side) and of the mean per-shower cell
    # spectrum (counts per shower); see _MeanReplicas. replica_seed drew their weights.
    projection_replicas: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    cell_spectrum_replicas: np.ndarray | None = None
    replica_seed: int | None = None

    @property
    def layer_energies(self) -> np.ndarray | None:
        """Energy per layer and shower (N, Z), in GeV."""
        return self.longitudinal

    @property
    def is_grid(self) -> bool:
        return len(self.shape) == 3

    def __len__(self) -> int:
        return len(self.energies)


def summarise(source, *, batch_size: int = BATCH, progress: bool = False,
              name: str = "sample", keep_images: int = IMAGE_SAMPLE, replicas: int = REPLICAS,
              seed: int = 0) -> Summary:
    """Stream ``source`` once and keep per-shower features and the accumulators, the first
    ``keep_images`` showers whole, and ``replicas`` bootstrap replicas (seeded by
    ``seed``) of the mean projections and cell spectrum (0: none, and no errors for the
    distances of those). Two samples to be compared need different seeds: replicas drawn with
    one seed share their weights shower by shower. The weights do not depend on
    ``batch_size``."""
    stream = batches_of(source, batch_size)
    if progress:
        from tqdm import tqdm
        stream = tqdm(stream, unit=" batches", desc=f"reading {name}")
    energies, angles, longitudinal, lateral, kept = [], [], [], [], []
    centres, widths = ([], []), ([], [])
    kept_count = 0
    features: dict[str, list] = {}
    cell_counts = np.zeros(len(CELL_EDGES) - 1, dtype=np.int64)
    sums: dict[str, list] = {}
    counts: dict[str, int] = {}
    replica_means: dict[str, _MeanReplicas] = {}
    rng = np.random.default_rng(seed)
    shape = None
    for batch in stream:
        images = batch.images
        if shape is None:
            shape = batch.shape
        elif batch.shape != shape:
            raise ValueError(f"{name}: showers change shape within the sample "
                             f"({shape} then {batch.shape})")
        if not np.all(np.isfinite(images)):
            raise ValueError(f"{name}: shower cells contain NaN or infinite values")
        if images.size and images.min() < 0:
            raise ValueError(f"{name}: shower cells hold negative energies (smallest "
                             f"{images.min():.3g} GeV); deposited energies are ≥ 0")
        energies.append(batch.energies)
        if batch.angles is not None:
            angles.append(batch.angles)
        values = {"total_energy": obs.total_energy(images),
                  "hits": obs.hits(images).astype(np.float64),
                  "sparsity": obs.sparsity(images)}
        values["sampling_fraction"] = values["total_energy"] / batch.energies
        if replicas:
            spectra = obs.cell_spectra(images, CELL_EDGES)
            cell_counts += spectra.sum(axis=0)
            # drawn shower by shower, so that the batch size does not change them
            weights = 2.0 * rng.integers(0, 2, (len(batch), replicas)).T
            replica_means.setdefault(
                "cells", _MeanReplicas(spectra.shape[1], replicas, energy_trend=True)).add(
                spectra, batch.energies, weights)
        else:
            cell_counts += obs.cell_spectrum(images, CELL_EDGES)
        if batch.is_grid:
            if kept_count < keep_images:
                kept.append(np.asarray(images[:keep_images - kept_count], np.float32))
                kept_count += len(kept[-1])
            values.update(obs.moments(images))
            values["shower_max_layer"] = obs.shower_max_layer(images).astype(np.float64)
            if batch.angles is not None:
                values["measured_angle"] = obs.measured_angle(images)
            longitudinal.append(obs.longitudinal_profile(images))
            for axis, (centre, width) in enumerate(zip(*_layer_moments(images))):
                centres[axis].append(centre)
                widths[axis].append(width)
            lateral.append(obs.lateral_profile(images))
            projections = obs.projections(images)
            selections = {"all": np.ones(len(batch), bool)}
            for low, high in ENERGY_BINS:
                selections[bin_label(low, high)] = (batch.energies >= low) & \
                    (batch.energies <= high)
            for label, selected in selections.items():
                if not selected.any():
                    continue
                partial = [p[selected].sum(axis=0, dtype=np.float64) for p in projections]
                if label in sums:
                    sums[label] = [a + b for a, b in zip(sums[label], partial)]
                else:
                    sums[label] = partial
                counts[label] = counts.get(label, 0) + int(selected.sum())
                if replicas:
                    flat = np.concatenate([p[selected].reshape(int(selected.sum()), -1)
                                           for p in projections], axis=1)
                    replica_means.setdefault(
                        f"projections/{label}",
                        _MeanReplicas(flat.shape[1], replicas, energy_trend=label == "all"),
                    ).add(flat, batch.energies[selected], weights[:, selected])
        for key, value in values.items():
            features.setdefault(key, []).append(value)
    if shape is None:
        raise ValueError(f"{name}: no showers")
    deviations = {key: accumulator.deviations() for key, accumulator in replica_means.items()}
    projection_replicas = {key.removeprefix("projections/"): value
                           for key, value in deviations.items()
                           if key.startswith("projections/") and value is not None}
    return Summary(
        shape=shape,
        energies=np.concatenate(energies),
        angles=np.concatenate(angles) if angles else None,
        features={key: np.concatenate(value) for key, value in features.items()},
        cell_counts=cell_counts,
        longitudinal=np.concatenate(longitudinal) if longitudinal else None,
        lateral=np.concatenate(lateral) if lateral else None,
        mean_projections={label: tuple(p / counts[label] for p in sums[label])
                          for label in sums},
        bin_counts=counts,
        images=np.concatenate(kept) if kept else None,
        layer_centres=tuple(np.concatenate(c) for c in centres) if centres[0] else None,
        layer_widths=tuple(np.concatenate(w) for w in widths) if widths[0] else None,
        projection_replicas=projection_replicas,
        cell_spectrum_replicas=deviations.get("cells"),
        replica_seed=seed if replicas else None,
    )


def _layer_moments(images: np.ndarray):
    """Per layer, the energy-weighted centre and width in x and y, in cells from the grid
    centre: ((centre_x, centre_y), (width_x, width_y)), each (N, Z)."""
    images = np.asarray(images, np.float64)
    layer = images.sum(axis=(1, 2))
    safe = np.where(layer > 0, layer, 1.0)
    results = []
    for axis, size in ((1, images.shape[1]), (2, images.shape[2])):
        position = np.arange(size) + 0.5 - size / 2.0
        profile = images.sum(axis=3 - axis)            # (N, size, Z)
        mean = np.einsum("nsz,s->nz", profile, position) / safe
        second = np.einsum("nsz,s->nz", profile, position**2) / safe
        results.append((mean, np.sqrt(np.clip(second - mean**2, 0.0, None))))
    return (results[0][0], results[1][0]), (results[0][1], results[1][1])


HIGH_LEVEL = ("sampling_fraction", "hits", "m1_x", "m1_y", "m1_z", "m2_x", "m2_y", "m2_z",
              "shower_max_layer")


def high_level_features(summary: Summary) -> np.ndarray:
    """(N, F) features for FPD, KPD and the classifier test."""
    keys = [key for key in HIGH_LEVEL if key in summary.features]
    columns = [summary.features[key] for key in keys]
    if summary.longitudinal is not None:
        total = summary.longitudinal.sum(axis=1, keepdims=True)
        fractions = summary.longitudinal / np.where(total > 0, total, 1.0)
        columns += [fractions[:, layer] for layer in range(0, fractions.shape[1], 3)]
    return np.stack(columns, axis=1)
