"""Distances between a reference and a generated sample."""

from __future__ import annotations

import numpy as np


def separation_power(h1, h2) -> float:
    """CaloChallenge separation power ½ Σ (p − q)² / (p + q) of two histograms on the same bins.

    The counts are normalised to unit sum first; 0 = identical, 1 = disjoint.
    """
    p = np.asarray(h1, dtype=np.float64)
    q = np.asarray(h2, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in shape: {p.shape} vs {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("separation power of an empty histogram")
    p, q = p / p.sum(), q / q.sum()
    both = (p + q) > 0
    return float(0.5 * np.sum((p[both] - q[both]) ** 2 / (p[both] + q[both])))


def separation_power_error(h1, h2) -> float:
    """Standard error of :func:`separation_power` for two histograms of counts.

    Two parts, added in quadrature: the noise floor, which alone makes two samples of one
    distribution differ (½ Σ (p − q)²/(p + q) ≈ (1/N₁ + 1/N₂)/4 · χ² with B − 1 degrees of
    freedom: standard deviation (1/N₁ + 1/N₂)/4 · √(2(B − 1))), and the multinomial error of
    a real difference propagated linearly (delta method), less the part of it that the noise
    itself produces (2× the floor's variance, in expectation) so that it is not counted twice.
    """
    counts_p = np.asarray(h1, dtype=np.float64)
    counts_q = np.asarray(h2, dtype=np.float64)
    n_p, n_q = counts_p.sum(), counts_q.sum()
    if n_p <= 0 or n_q <= 0:
        raise ValueError("separation power of an empty histogram")
    p, q = counts_p / n_p, counts_q / n_q
    both = (p + q) > 0
    p, q = p[both], q[both]
    inverse = 1.0 / n_p + 1.0 / n_q
    floor_variance = (inverse / 4.0) ** 2 * 2.0 * max(len(p) - 1, 0)
    ratio = (p - q) / (p + q)
    gradient_p = ratio - ratio**2 / 2.0
    gradient_q = -ratio - ratio**2 / 2.0
    delta = ((np.sum(p * gradient_p**2) - np.sum(p * gradient_p) ** 2) / n_p
             + (np.sum(q * gradient_q**2) - np.sum(q * gradient_q) ** 2) / n_q)
    return floor_plus_excess(floor_variance, delta, 2.0)


def floor_plus_excess(floor_variance: float, variance: float, floors: float) -> float:
    """A distance's standard error from its noise floor and a resampled variance: the floor's
    variance plus what ``variance`` holds beyond ``floors`` times it (the part the noise itself
    puts into the resampled spread), never less than the floor."""
    return float(np.sqrt(floor_variance + max(variance - floors * floor_variance, 0.0)))


def permuted_within(labels: np.ndarray, groups, rng: np.random.Generator) -> np.ndarray:
    """``labels`` shuffled within each group of rows (a permutation that keeps each group's
    share of either sample)."""
    shuffled = labels.copy()
    for members in groups:
        shuffled[members] = shuffled[members][rng.permutation(len(members))]
    return shuffled


def separation_power_error_resampled(reference, generated, edges, strata, resampled_reference,
                                     resampled_generated, permutations: int = 100,
                                     seed: int = 0) -> float:
    """Standard error of a separation power from its samples themselves.

    The noise floor, the spread that two samples of one distribution show, from
    ``permutations`` random reassignments of the pooled values to the two samples within
    ``strata`` (so each stratum keeps its share of either sample); it is exact for sparse
    histograms, where the χ² approximation of :func:`separation_power_error` overstates it.
    Then the linear error of a real difference from the resampled histograms (rows of
    ``resampled_reference``/``resampled_generated`` on ``edges``), less twice the floor's
    variance that the noise itself puts into it.
    """
    reference = np.asarray(reference, np.float64)
    generated = np.asarray(generated, np.float64)
    low, high = edges[0], edges[-1]

    def power(a, b):
        return separation_power(np.histogram(np.clip(a, low, high), edges)[0],
                                np.histogram(np.clip(b, low, high), edges)[0])

    pooled = np.concatenate([reference, generated])
    labels = np.r_[np.zeros(len(reference), bool), np.ones(len(generated), bool)]
    rng = np.random.default_rng(seed)
    floor = []
    for _ in range(permutations):
        shuffled = permuted_within(labels, strata, rng)
        floor.append(power(pooled[~shuffled], pooled[shuffled]))
    floor_variance = float(np.var(floor, ddof=1))
    counts_p = np.histogram(np.clip(reference, low, high), edges)[0].astype(np.float64)
    counts_q = np.histogram(np.clip(generated, low, high), edges)[0].astype(np.float64)
    p, q = counts_p / counts_p.sum(), counts_q / counts_q.sum()
    replicas_p = np.asarray(resampled_reference, np.float64)
    replicas_q = np.asarray(resampled_generated, np.float64)
    replicas_p = replicas_p / replicas_p.sum(axis=1, keepdims=True)
    replicas_q = replicas_q / replicas_q.sum(axis=1, keepdims=True)
    both = (p + q) > 0
    ratio = (p[both] - q[both]) / (p[both] + q[both])
    delta = float(np.var(replicas_p[:, both] @ (ratio - ratio**2 / 2.0), ddof=1)
                  + np.var(replicas_q[:, both] @ (-ratio - ratio**2 / 2.0), ddof=1))
    return floor_plus_excess(floor_variance, delta, 2.0)


def separation_edges(reference, generated, bins: int | None = None) -> np.ndarray:
    """Common bin edges of two samples: ``bins`` (default √N, 5 to 50) equal bins over the
    central 99% of both."""
    reference = np.asarray(reference, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    if bins is None:
        bins = int(np.clip(np.sqrt(min(len(reference), len(generated))), 5, 50))
    both = np.concatenate([reference, generated])
    low, high = np.nanpercentile(both, [0.5, 99.5]) if both.size else (0.0, 1.0)
    if not high > low:
        high = low + 1.0
    return np.linspace(low, high, bins + 1)


def histogram_separation(reference, generated, bins: int | None = None,
                         log: bool = False, edges: np.ndarray | None = None) -> float:
    """Separation power of two samples histogrammed on common bins (central 99% of both;
    values outside go to the edge bins).

    ``bins`` defaults to √N between 5 and 50, so that small samples are not all noise;
    ``edges`` fixes the bins instead (as bootstrap replicas of one comparison must).
    """
    reference = np.asarray(reference, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    if log:
        reference, generated = reference[reference > 0], generated[generated > 0]
        reference, generated = np.log10(reference), np.log10(generated)
    if edges is None:
        edges = separation_edges(reference, generated, bins)
    low, high = edges[0], edges[-1]
    return separation_power(np.histogram(np.clip(reference, low, high), edges)[0],
                            np.histogram(np.clip(generated, low, high), edges)[0])


def projection_mse(reference: tuple, generated: tuple) -> float:
    """The seed paper's composite accuracy: MSE between the mean x, y and z projections.

    Each argument is the three mean projections (2-D arrays) of one sample.
    """
    total = 0.0
    for a, b in zip(reference, generated):
        total += float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))
    return total


def ssim(a, b, dynamic_range: float = 1e-4) -> float:
    """Structural similarity of two images (global statistics), with constant L."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    c1, c2 = (0.01 * dynamic_range) ** 2, (0.03 * dynamic_range) ** 2
    mean_a, mean_b = a.mean(), b.mean()
    var_a, var_b = a.var(), b.var()
    cov = ((a - mean_a) * (b - mean_b)).mean()
    return float((2 * mean_a * mean_b + c1) * (2 * cov + c2)
                 / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)))


def _gaussian_matrix(length: int, sigma: float, truncate: float) -> np.ndarray:
    """(length, length) matrix of a 1-D Gaussian smoothing with reflected edges (scipy's
    default "reflect", d c b a | a b c d): row i holds the weights of the inputs of output i."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    matrix = np.zeros((length, length))
    period = 2 * length
    for output in range(length):
        sources = np.mod(output + offsets, period)
        sources = np.where(sources >= length, period - 1 - sources, sources)
        np.add.at(matrix[output], sources, kernel)
    return matrix


def _gaussian_filter(images: np.ndarray, sigma: float, truncate: float) -> np.ndarray:
    """Gaussian smoothing over the last two axes (reflected edges, as scipy's default), as
    one small matrix product per axis."""
    rows = _gaussian_matrix(images.shape[-2], sigma, truncate)
    columns = _gaussian_matrix(images.shape[-1], sigma, truncate)
    return rows @ images @ columns.T


def layer_ssim(reference: np.ndarray, generated: np.ndarray, data_range: float, *,
               sigma: float = 1.5, truncate: float = 3.5) -> tuple[float, float]:
    """Per-shower, per-layer SSIM as the 3DGAN analysis defines it, with its standard error.

    Each (X, Y) layer image of a reference shower is compared with the same layer of a
    generated shower by the Gaussian-window SSIM of Wang et al. (σ = 1.5 cells, window
    truncated at 3.5 σ, population covariances, K1 = 0.01, K2 = 0.03, as scikit-image's
    ``structural_similarity(gaussian_weights=True)``), averaged over the window positions
    at least a window radius from the edge, then over layers. Showers are paired in order of
    primary energy by the caller (``reference[i]`` with ``generated[i]``).

    Parameters
    ----------
    reference, generated
        (N, X, Y, Z) cell energies in GeV, paired by index.
    data_range
        L of the SSIM constants, in GeV (the same unit as the cells).

    Returns
    -------
    tuple
        Mean SSIM over the pairs and its standard error (over pairs).
    """
    count = min(len(reference), len(generated))
    if count < 2:
        raise ValueError(f"layer SSIM needs at least 2 shower pairs, got {count}")
    a = np.moveaxis(np.asarray(reference[:count], np.float64), -1, 1)   # (N, Z, X, Y)
    b = np.moveaxis(np.asarray(generated[:count], np.float64), -1, 1)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mean_a, mean_b = _gaussian_filter(a, sigma, truncate), _gaussian_filter(b, sigma, truncate)
    var_a = _gaussian_filter(a * a, sigma, truncate) - mean_a**2
    var_b = _gaussian_filter(b * b, sigma, truncate) - mean_b**2
    cov = _gaussian_filter(a * b, sigma, truncate) - mean_a * mean_b
    ssim_map = ((2 * mean_a * mean_b + c1) * (2 * cov + c2)
                / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)))
    crop = (2 * int(truncate * sigma + 0.5) + 1 - 1) // 2
    per_pair = ssim_map[..., crop:ssim_map.shape[-2] - crop,
                        crop:ssim_map.shape[-1] - crop].mean(axis=(-2, -1)).mean(axis=1)
    return float(per_pair.mean()), float(per_pair.std(ddof=1) / np.sqrt(count))


def _frechet(x: np.ndarray, y: np.ndarray) -> float:
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    cov_x, cov_y = np.atleast_2d(cov_x), np.atleast_2d(cov_y)
    # tr sqrt(cov_x cov_y) from the eigenvalues of sqrt(cov_x) cov_y sqrt(cov_x) (symmetric).
    values, vectors = np.linalg.eigh(cov_x)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root @ cov_y @ root)
    trace_root = np.sum(np.sqrt(np.clip(middle, 0, None)))
    return float(np.sum((mean_x - mean_y) ** 2) + np.trace(cov_x) + np.trace(cov_y)
                 - 2 * trace_root)


def fpd(reference: np.ndarray, generated: np.ndarray, *, min_samples: int = 500,
        points: int = 10, seed: int = 0) -> tuple[float, float]:
    """Fréchet physics distance: FD at several sample sizes, extrapolated to 1/N → 0.

    Returns (value, error): the intercept of a linear fit of FD against 1/N and its standard
    error (JetNet's definition).
    """
    reference, generated = np.asarray(reference, float), np.asarray(generated, float)
    largest = min(len(reference), len(generated))
    if largest < 20:
        raise ValueError(f"FPD needs at least 20 showers per sample, got {largest}")
    rng = np.random.default_rng(seed)
    sizes = np.linspace(min(min_samples, largest // 2), largest, points).astype(int)
    values = []
    for size in sizes:
        values.append(_frechet(reference[rng.choice(len(reference), size, replace=False)],
                               generated[rng.choice(len(generated), size, replace=False)]))
    inverse = 1.0 / sizes
    design = np.stack([inverse, np.ones_like(inverse)], axis=1)
    coefficients, residuals, *_ = np.linalg.lstsq(design, values, rcond=None)
    fitted = design @ coefficients
    dof = max(len(sizes) - 2, 1)
    variance = np.sum((np.asarray(values) - fitted) ** 2) / dof
    covariance = variance * np.linalg.inv(design.T @ design)
    return float(coefficients[1]), float(np.sqrt(covariance[1, 1]))


def kpd(reference: np.ndarray, generated: np.ndarray, *, batches: int = 10,
        batch_size: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Kernel physics distance: unbiased MMD² with the kernel (x·y/d + 1)⁴, median over
    batches drawn without replacement; returns (median, error).

    The spread of the batches (half their 16th–84th percentile range, JetNet's error) is the
    error of one batch, not of the median of several, which behaves like one estimate from
    the whole samples. The error is that spread carried to twice the batch size (the whole
    samples, when the batches hold half of them: up to 4,000 showers per sample by default)
    at the rate it shrinks from batches of half the size to the batches (subsampling
    with an estimated rate, Bertail, Politis & Romano 1999): as 1/N for two samples of one
    distribution (the MMD² U-statistic is degenerate there), as 1/√N for different ones; the
    rate is kept between those two.
    """
    reference, generated = np.asarray(reference, float), np.asarray(generated, float)
    size = min(batch_size, len(reference) // 2, len(generated) // 2)
    if size < 10:
        raise ValueError(f"KPD needs at least 10 showers per sample, got {size}")
    dimension = reference.shape[1]
    rng = np.random.default_rng(seed)

    def estimates(count: int) -> np.ndarray:
        results = []
        for _ in range(batches):
            x = reference[rng.choice(len(reference), count, replace=False)]
            y = generated[rng.choice(len(generated), count, replace=False)]
            kxx = (x @ x.T / dimension + 1) ** 4
            kyy = (y @ y.T / dimension + 1) ** 4
            kxy = (x @ y.T / dimension + 1) ** 4
            off = count * (count - 1)
            results.append((kxx.sum() - np.trace(kxx)) / off
                           + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
        return np.asarray(results)

    def spread(values: np.ndarray) -> float:
        low, high = np.percentile(values, [16.275, 83.725])
        return float((high - low) / 2)

    results = estimates(size)
    batch_spread = spread(results)
    half_spread = spread(estimates(max(size // 2, 5)))
    if batch_spread > 0 and half_spread > 0:
        rate = float(np.clip(np.log2(half_spread / batch_spread), 0.5, 1.0))
    else:
        rate = 0.5
    return float(np.median(results)), batch_spread * 2.0 ** -rate


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic, ties averaged)."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    unique, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = start + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(average, counts)
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def auc_error(value: float, positives: int, negatives: int) -> float:
    """Standard error of an AUC from the test-set sizes (Hanley & McNeil 1982)."""
    q1, q2 = value / (2 - value), 2 * value**2 / (1 + value)
    variance = (value * (1 - value) + (positives - 1) * (q1 - value**2)
                + (negatives - 1) * (q2 - value**2)) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def classifier_auc(reference: np.ndarray, generated: np.ndarray, *, epochs: int = 20,
                   seed: int = 0) -> float:
    """Train a small Keras DNN to tell reference from generated features; test-set AUC.

    0.5 means indistinguishable, 1 means perfectly separable.
    """
    import keras

    reference, generated = np.asarray(reference, np.float32), np.asarray(generated, np.float32)
    features = np.concatenate([reference, generated])
    labels = np.concatenate([np.zeros(len(reference)), np.ones(len(generated))])
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-8
    features = (features - mean) / std
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(features))
    split = len(order) // 2
    train, test = order[:split], order[split:]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((features.shape[1],)),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    model.fit(features[train], labels[train], epochs=epochs, batch_size=256, verbose=0,
              shuffle=True)
    scores = model.predict(features[test], batch_size=4096, verbose=0).ravel()
    return auc(labels[test], scores)
