"""Parameter-free layers of the zoo, registered so that models load in Keras safe mode."""

from __future__ import annotations

import math

import keras
from keras import ops

PACKAGE = "calozoo"


def _unpower(image, power: float):
    """Undo the pixel transform ``X**power`` (cells below zero count as empty)."""
    if power == 1.0:
        return image
    return ops.power(ops.relu(image), 1.0 / power)


@keras.saving.register_keras_serializable(package=PACKAGE)
class VoxelSum(keras.layers.Layer):
    """Total energy of a shower image: the sum over all cells, shape ``(batch, 1)``.

    Parameters
    ----------
    power
        The pixel transform the image carries (``X**power``); it is undone before summing, so
        the sum is in the units of the raw cells (GeV).
    """

    def __init__(self, power: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.power = float(power)

    def call(self, images):
        cells = _unpower(images, self.power)
        return ops.sum(ops.reshape(cells, (ops.shape(cells)[0], -1)), axis=1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "power": self.power}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MeasuredAngle(keras.layers.Layer):
    """Polar angle of the shower axis in radians, as the 3DGAN analysis measures it.

    Input ``(batch, X, Y, Z, 1)``. Cell coordinates are ``index + 0.5``. For each layer z the
    x–y barycentre is compared with the event barycentre: ``m = (y_z - ȳ) / sqrt((x_z - x̄)² +
    (z - z̄)²)`` (sign flipped for layers before z̄) gives the layer angle ``π/2 - atan(m)``; the
    result is the z-weighted mean over layers with energy. Empty events give ``empty_value``.

    Parameters
    ----------
    power
        The pixel transform the image carries; undone before measuring.
    empty_value
        Returned for events without energy (100 in the original code).
    """

    def __init__(self, power: float = 1.0, empty_value: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.power = float(power)
        self.empty_value = float(empty_value)

    def call(self, images):
        cells = _unpower(ops.squeeze(images, axis=-1), self.power)
        nx, ny, nz = cells.shape[1], cells.shape[2], cells.shape[3]
        dtype = cells.dtype
        xs = ops.cast(ops.arange(nx), dtype) + 0.5
        ys = ops.cast(ops.arange(ny), dtype) + 0.5
        zs = ops.cast(ops.arange(nz), dtype) + 0.5

        total = ops.sum(cells, axis=(1, 2, 3))
        safe_total = ops.where(total > 0, total, ops.ones_like(total))
        x_bar = ops.sum(ops.sum(cells, axis=(2, 3)) * xs, axis=1) / safe_total
        y_bar = ops.sum(ops.sum(cells, axis=(1, 3)) * ys, axis=1) / safe_total
        z_bar = ops.sum(ops.sum(cells, axis=(1, 2)) * zs, axis=1) / safe_total

        layer_sum = ops.sum(cells, axis=(1, 2))
        has_energy = layer_sum > 0
        safe_layer_sum = ops.where(has_energy, layer_sum, ops.ones_like(layer_sum))
        x_layer = ops.sum(ops.sum(cells, axis=2) * xs[None, :, None], axis=1) / safe_layer_sum
        y_layer = ops.sum(ops.sum(cells, axis=1) * ys[None, :, None], axis=1) / safe_layer_sum

        dz = zs[None, :] - z_bar[:, None]
        projection = ops.sqrt(
            ops.maximum((x_layer - x_bar[:, None]) ** 2 + dz**2, keras.config.epsilon())
        )
        slope = (y_layer - y_bar[:, None]) / projection
        slope = ops.where(dz < 0, -slope, slope)
        layer_angle = math.pi / 2 - ops.arctan(slope)

        weight = ops.where(has_energy, zs[None, :] * ops.ones_like(layer_sum), 0.0)
        weight_sum = ops.sum(weight, axis=1)
        angle = ops.sum(layer_angle * weight, axis=1) / ops.where(
            weight_sum > 0, weight_sum, ops.ones_like(weight_sum)
        )
        angle = ops.where(total > 0, angle, ops.full_like(angle, self.empty_value))
        return ops.expand_dims(angle, -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        return {**super().get_config(), "power": self.power, "empty_value": self.empty_value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwitchableReLU(keras.layers.Layer):
    """A ReLU that can be switched off: G1 trains without it for two epochs, then with it.

    ``enabled`` is a plain attribute (no weight), so it does not change the parameter count;
    a compiled training step must be rebuilt after switching it.
    """

    def __init__(self, enabled: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.enabled = bool(enabled)

    def call(self, inputs):
        return ops.relu(inputs) if self.enabled else inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "enabled": self.enabled}


def cells_in_gev(raw, power: float, cell_scale: float, threshold: float, dtype="float32"):
    """Network output (batch, X, Y, Z, 1) → cells in GeV (batch, X, Y, Z): undo the pixel
    power and the cell scale, and set cells below ``threshold`` (negatives too) to 0."""
    cells = ops.cast(ops.squeeze(raw, axis=-1), "float32")
    if power != 1.0:
        cells = ops.power(ops.relu(cells), 1.0 / power)
    if cell_scale != 1.0:
        cells = cells / cell_scale
    cells = ops.where(cells >= threshold, cells, ops.zeros_like(cells))
    return ops.cast(cells, dtype)


@keras.saving.register_keras_serializable(package=PACKAGE)
class InverseTransform(keras.layers.Layer):
    """Generator output → cells in GeV (see :func:`cells_in_gev`)."""

    def __init__(self, power: float = 1.0, cell_scale: float = 1.0, threshold: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.power, self.cell_scale, self.threshold = float(power), float(cell_scale), \
            float(threshold)

    def call(self, raw):
        return cells_in_gev(raw, self.power, self.cell_scale, self.threshold)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "power": self.power, "cell_scale": self.cell_scale,
                "threshold": self.threshold}


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conditioner(keras.layers.Layer):
    """(noise, energy in GeV[, angle in degrees]) → the generator's input vector.

    ``mode="scale"``: noise · E / energy_scale; ``mode="concat"``: [E / energy_scale, θ_rad,
    noise].
    """

    def __init__(self, mode: str = "scale", energy_scale: float = 100.0, **kwargs):
        super().__init__(**kwargs)
        self.mode, self.energy_scale = mode, float(energy_scale)

    def call(self, noise, energy, angle=None):
        scaled = ops.expand_dims(ops.cast(energy, noise.dtype) / self.energy_scale, -1)
        if self.mode == "scale":
            return noise * scaled
        columns = [scaled]
        if angle is not None:
            columns.append(ops.expand_dims(ops.cast(angle, noise.dtype) * (math.pi / 180.0),
                                           -1))
        return ops.concatenate([*columns, noise], axis=-1)

    def compute_output_shape(self, noise_shape, energy_shape=None, angle_shape=None):
        extra = 0 if self.mode == "scale" else 1 + (angle_shape is not None)
        return (noise_shape[0], noise_shape[1] + extra)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "energy_scale": self.energy_scale}
