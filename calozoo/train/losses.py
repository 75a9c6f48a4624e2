"""The losses of the recipes (one definition for every backend) and the detector's energy fit."""

from __future__ import annotations

import dataclasses

import numpy as np
from keras import ops

EPSILON = 1e-7


def binary_crossentropy(target, prediction):
    prediction = ops.clip(prediction, EPSILON, 1.0 - EPSILON)
    return -ops.mean(target * ops.log(prediction) + (1.0 - target) * ops.log(1.0 - prediction))


def mape(target, prediction):
    """Mean absolute percentage error, in percent (Keras's definition)."""
    return 100.0 * ops.mean(ops.abs(target - prediction) / ops.maximum(ops.abs(target), EPSILON))


def mae(target, prediction):
    return ops.mean(ops.abs(target - prediction))


HEAD_LOSSES = {"generation": binary_crossentropy, "auxiliary": mape, "ecal": mape,
               "angle_rad": mae}


def weighted_loss(heads: dict, targets: dict, weights: dict[str, float]):
    """Σ weight · loss(head) over the recipe's heads; returns (total, per-head losses)."""
    parts = {}
    total = 0.0
    for head, weight in weights.items():
        prediction = ops.cast(ops.reshape(heads[head], (-1,)), "float32")
        parts[head] = HEAD_LOSSES[head](ops.cast(targets[head], "float32"), prediction)
        total = total + weight * parts[head]
    return total, parts


@dataclasses.dataclass(frozen=True)
class EnergyFit:
    """The detector's response: ΣECAL (training units) ≈ ratio(y)·y with y = Ep/100 and
    ratio a polynomial in y (highest power first), fitted on the training data (3DGAN's
    GetEcalFit)."""

    coefficients: tuple[float, ...]

    def __call__(self, y: np.ndarray) -> np.ndarray:
        return np.polyval(self.coefficients, y) * y

    @classmethod
    def fit(cls, energies_over_100: np.ndarray, sums: np.ndarray, degree: int = 4) -> EnergyFit:
        """Least-squares fit of ΣECAL/y against y (degree lowered for tiny samples)."""
        y = np.asarray(energies_over_100, np.float64)
        degree = int(min(degree, max(0, len(np.unique(y)) - 1)))
        return cls(tuple(float(c) for c in np.polyfit(y, np.asarray(sums) / y, degree)))
