"""The CaloChallenge evaluation's conventions, so that numbers sit next to published tables.

``compare(..., convention="calochallenge")`` uses this module:

- **FPD and KPD** with JetNet's estimators (jetnet 0.2.5, ``jetnet.evaluation``; with scipy
  installed, its ``sqrtm`` and bounded ``curve_fit`` as JetNet calls them, else the same
  algebra in numpy and the exact non-negative least-squares line): features
  divided by the reference's largest |value| per feature; FPD = the intercept of a
  non-negative linear fit of the mean Fréchet distance of 20 draws (with replacement) at 10
  sizes evenly spaced in 1/N between 20,000 and 50,000, error the intercept's standard error;
  KPD = the median over 10 batches of 5,000 (with replacement, seeds 42 + 1000·i) of the
  unbiased MMD² with the kernel (x·y/d + 1)⁴, error half the 16.275–83.725 % range.
- **Features**: CaloChallenge's high-level set: log10 E_inc, log10(E_layer + 1e-8) per layer,
  and per layer the centre of energy and the width in x and y (here in cells from the grid
  centre, / 100 as CaloChallenge divides its mm).
- **Separation power**: ½ Σ (h₁ − h₂)²/(h₁ + h₂) of densities on CaloChallenge's bins; values
  outside the bins are dropped. E_dep/E_inc is divided by the reference's median first
  (calozoo's showers hold the visible energy, CaloChallenge's are calibrated to ~1), then
  binned on 0.5–1.5 in 100 bins; layer and cell energies on 40 and 50 log bins from the hit
  threshold to the reference's largest value; centres on 100 bins over ± half the grid,
  widths on 100 bins from 0 to half the grid.
- **Classifier** ("cls-low"): a DNN (3 hidden layers of 512, LeakyReLU) on log10 E_inc and the
  cells / E_inc × 100; Adam 2e-4, batches of 1000, 50 epochs; 60/20/20 split per class
  (train / test / validation); the epoch with the best test accuracy is kept; its outputs are
  calibrated by isotonic regression on the test split, and AUC and JSD = (ln 2 − BCE)/ln 2
  are reported on the validation split.
"""

from __future__ import annotations

import numpy as np

from calozoo.metrics import distances
from calozoo.metrics.observables import HIT_THRESHOLD_GEV


def normalise(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both divided by the reference's largest |value| per feature (1 where that is 0)."""
    scale = np.max(np.abs(reference), axis=0)
    scale = np.where(scale == 0, 1.0, scale)
    return reference / scale, generated / scale


def _nonnegative_line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares y = a + b·x with a, b ≥ 0; (a, b) and their covariance scaled by the
    residual variance (as scipy's curve_fit with bounds reports it)."""
    design = np.stack([np.ones_like(x), x], axis=1)
    best, best_cost = None, np.inf
    for free in ((0, 1), (0,), (1,), ()):
        parameters = np.zeros(2)
        if free:
            solution = np.linalg.lstsq(design[:, free], y, rcond=None)[0]
            if np.any(solution < 0):
                continue
            parameters[list(free)] = solution
        cost = float(np.sum((y - design @ parameters) ** 2))
        if cost < best_cost:
            best, best_cost = parameters, cost
    variance = best_cost / max(len(x) - 2, 1)
    return best, variance * np.linalg.inv(design.T @ design)


def fpd(reference: np.ndarray, generated: np.ndarray, *, min_samples: int = 20_000,
        max_samples: int = 50_000, num_batches: int = 20, num_points: int = 10,
        seed: int = 42) -> tuple[float, float]:
    """JetNet's Fréchet physics distance and its error (features normalised here)."""
    x, y = normalise(np.asarray(reference, np.float64), np.asarray(generated, np.float64))
    sizes = (1 / np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)).astype(np.int32)
    rng = np.random.default_rng(seed)
    frechet = _frechet_sqrtm if _scipy() else distances._frechet
    means = []
    for size in sizes:
        values = [frechet(x[rng.choice(len(x), size=size)], y[rng.choice(len(y), size=size)])
                  for _ in range(num_batches)]
        means.append(np.mean(values))
    inverse, means = 1.0 / sizes, np.asarray(means)
    if _scipy():
        # JetNet's fit, iterations and stopping included: scipy's bounded curve_fit can stop
        # short of the least-squares line (1 % on FPD with its default sizes)
        from scipy.optimize import curve_fit
        parameters, covariance = curve_fit(lambda t, a, b: a + b * t, inverse, means,
                                           bounds=([0, 0], [np.inf, np.inf]))
    else:
        parameters, covariance = _nonnegative_line(inverse, means)
    return float(parameters[0]), float(np.sqrt(covariance[0, 0]))


def _scipy() -> bool:
    try:
        import scipy.linalg  # noqa: F401
        import scipy.optimize  # noqa: F401
    except ImportError:
        return False
    return True


def _frechet_sqrtm(x: np.ndarray, y: np.ndarray) -> float:
    """The Fréchet distance as JetNet computes it (scipy's sqrtm of Σx·Σy)."""
    from scipy import linalg

    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root, _ = linalg.sqrtm(cov_x.dot(cov_y), disp=False)
    if not np.isfinite(root).all():
        offset = np.eye(cov_x.shape[0]) * 1e-6
        root = linalg.sqrtm((cov_x + offset).dot(cov_y + offset))
    root = np.real(root)
    return float(np.sum((mean_x - mean_y) ** 2) + np.trace(cov_x) + np.trace(cov_y)
                 - 2 * np.trace(root))


def kpd(reference: np.ndarray, generated: np.ndarray, *, num_batches: int = 10,
        batch_size: int = 5_000, seed: int = 42) -> tuple[float, float]:
    """JetNet's kernel physics distance (median) and its error (half the 16.275–83.725 %
    range), features normalised here."""
    x, y = normalise(np.asarray(reference, np.float64), np.asarray(generated, np.float64))
    dimension = x.shape[1]
    values = []
    for index in range(num_batches):
        rng = np.random.default_rng(seed + index * 1000)
        a = x[rng.choice(len(x), size=batch_size)]
        b = y[rng.choice(len(y), size=batch_size)]
        kxx = (a @ a.T / dimension + 1) ** 4
        kyy = (b @ b.T / dimension + 1) ** 4
        kxy = (a @ b.T / dimension + 1) ** 4
        m = batch_size
        values.append((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                      + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    low, median, high = np.percentile(values, [16.275, 50, 83.725])
    return float(median), float((high - low) / 2)


def features(summary) -> np.ndarray:
    """CaloChallenge's high-level features of a grid Summary: (N, 1 + 5·layers)."""
    layers = summary.layer_energies
    columns = [np.log10(summary.energies)[:, None], np.log10(layers + 1e-8),
               summary.layer_centres[0] / 100, summary.layer_centres[1] / 100,
               summary.layer_widths[0] / 100, summary.layer_widths[1] / 100]
    return np.concatenate(columns, axis=1)


def separation(reference: np.ndarray, generated: np.ndarray, edges: np.ndarray
               ) -> tuple[float, float]:
    """Separation power of densities on ``edges`` (values outside are dropped) and its
    standard error (:func:`calozoo.metrics.distances.separation_power_error`)."""
    counts = [np.histogram(values, edges)[0] for values in (reference, generated)]
    if min(c.sum() for c in counts) == 0:
        return float("nan"), float("nan")
    h1, h2 = (c / c.sum() for c in counts)
    return (float(0.5 * np.sum((h1 - h2) ** 2 / (h1 + h2 + 1e-16))),
            distances.separation_power_error(*counts))


def separation_powers(ref, gen) -> dict[str, tuple[float, float]]:
    """The CaloChallenge separation powers (value, error) of two grid Summaries."""
    result = {}
    response = np.median(ref.features["sampling_fraction"])
    result["etot_einc"] = separation(ref.features["sampling_fraction"] / response,
                                     gen.features["sampling_fraction"] / response,
                                     np.linspace(0.5, 1.5, 101))
    for layer in range(ref.layer_energies.shape[1]):
        top = ref.layer_energies[:, layer].max()
        if top > HIT_THRESHOLD_GEV:
            edges = np.logspace(np.log10(HIT_THRESHOLD_GEV), np.log10(top), 40)
            result[f"e_layer_{layer}"] = separation(ref.layer_energies[:, layer],
                                                    gen.layer_energies[:, layer], edges)
    if ref.images is not None and gen.images is not None and ref.images.max() > \
            HIT_THRESHOLD_GEV:
        edges = np.logspace(np.log10(HIT_THRESHOLD_GEV), np.log10(ref.images.max()), 50)
        result["voxel"] = separation(ref.images.ravel(), gen.images.ravel(), edges)
    half = ref.shape[0] / 2.0
    for axis, name in enumerate("xy"):
        for layer in range(ref.layer_energies.shape[1]):
            result[f"centre_{name}_layer_{layer}"] = separation(
                ref.layer_centres[axis][:, layer], gen.layer_centres[axis][:, layer],
                np.linspace(-half, half, 101))
            result[f"width_{name}_layer_{layer}"] = separation(
                ref.layer_widths[axis][:, layer], gen.layer_widths[axis][:, layer],
                np.linspace(0.0, half, 101))
    return result


def isotonic(scores: np.ndarray, labels: np.ndarray, low: float = 1e-6,
             high: float = 1 - 1e-6):
    """Isotonic regression of labels on scores (pool adjacent violators); returns a function
    that maps scores to calibrated probabilities in [low, high] (clipped outside the range)."""
    order = np.argsort(scores, kind="stable")
    x, y = scores[order], labels[order].astype(np.float64)
    values, weights, counts = [], [], []
    for value in y:
        values.append(value)
        weights.append(1.0)
        counts.append(1)
        while len(values) > 1 and values[-2] > values[-1]:
            total = weights[-2] + weights[-1]
            merged = (values[-2] * weights[-2] + values[-1] * weights[-1]) / total
            count = counts[-2] + counts[-1]
            del values[-1], weights[-1], counts[-1]
            values[-1], weights[-1], counts[-1] = merged, total, count
    fitted = np.repeat(values, counts)
    fitted = np.clip(fitted, low, high)

    def calibrate(new_scores: np.ndarray) -> np.ndarray:
        return np.interp(new_scores, x, fitted)

    return calibrate


def classifier(reference_images: np.ndarray, reference_energies: np.ndarray,
               generated_images: np.ndarray, generated_energies: np.ndarray, *,
               epochs: int = 50, seed: int = 0) -> dict[str, float]:
    """CaloChallenge's cell-level classifier ("cls-low"): AUC and JSD on the validation split,
    with the AUC's standard error (Hanley–McNeil) and the JSD's (the standard error of the mean
    binary cross-entropy over the validation showers)."""
    import keras

    count = min(len(reference_images), len(generated_images))
    if count < 10:
        raise ValueError(f"the cell classifier needs at least 10 showers per sample, got {count}")

    def inputs(images, energies):
        flat = np.asarray(images[:count], np.float64).reshape(count, -1)
        energy = np.asarray(energies[:count], np.float64)
        return np.concatenate([np.log10(energy)[:, None], flat / energy[:, None] * 100], axis=1)

    rng = np.random.default_rng(seed)
    parts = {"train": [], "test": [], "validation": []}
    for label, data in ((0, inputs(reference_images, reference_energies)),
                        (1, inputs(generated_images, generated_energies))):
        data = data[rng.permutation(count)]
        first, second = int(0.6 * count), int(0.8 * count)
        for name, rows in (("train", data[:first]), ("test", data[first:second]),
                           ("validation", data[second:])):
            parts[name].append((rows, np.full(len(rows), label, np.float32)))
    split = {}
    for name, pieces in parts.items():
        x = np.concatenate([p[0] for p in pieces]).astype(np.float32)
        y = np.concatenate([p[1] for p in pieces])
        order = rng.permutation(len(x))
        split[name] = (x[order], y[order])
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((split["train"][0].shape[1],)),
        keras.layers.Dense(512), keras.layers.LeakyReLU(),
        keras.layers.Dense(512), keras.layers.LeakyReLU(),
        keras.layers.Dense(512), keras.layers.LeakyReLU(),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(2e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    best_accuracy, best_weights = -1.0, None
    for _ in range(epochs):
        model.fit(*split["train"], epochs=1, batch_size=1000, verbose=0, shuffle=True)
        logits = model.predict(split["test"][0], batch_size=1000, verbose=0).ravel()
        accuracy = float(np.mean((logits > 0) == (split["test"][1] > 0.5)))
        if accuracy > best_accuracy:
            best_accuracy, best_weights = accuracy, model.get_weights()
        if accuracy >= 1.0:
            break
    model.set_weights(best_weights)

    def probabilities(x):
        return 1 / (1 + np.exp(-model.predict(x, batch_size=1000, verbose=0).ravel()))

    calibrate = isotonic(probabilities(split["test"][0]), split["test"][1])
    predicted = calibrate(probabilities(split["validation"][0]))
    labels = split["validation"][1]
    losses = -(labels * np.log(predicted) + (1 - labels) * np.log(1 - predicted))
    auc = distances.auc(labels, predicted)
    positives = int(labels.sum())
    # the JSD is a mean over the validation showers: its error is the mean's standard error
    return {"auc": auc, "auc_error": distances.auc_error(auc, positives,
                                                         len(labels) - positives),
            "jsd": float((np.log(2) - losses.mean()) / np.log(2)),
            "jsd_error": float(losses.std(ddof=1) / np.sqrt(len(losses)) / np.log(2))}
