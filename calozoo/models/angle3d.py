"""3DGAN angle version of Khattak et al.: 51×51×25 showers conditioned on energy and angle.

Generator: [Ep/100, θ_rad, z] → Dense → 9×9×8×8 volume → ×6 up-sampling → six Conv3D stages
→ 51×51×25. It is trained on images raised to the power 0.85 (cells stored ×50 GeV).
Discriminator: four Conv3D stages → average pooling → real/fake and energy heads, plus the
voxel sum and the measured angle of the un-powered input.
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.conditioning import ENERGY_AND_ANGLE, Conditioning
from calozoo.models.base import ShowerDiscriminator, ShowerGenerator, discriminator_heads
from calozoo.models.layers import PACKAGE


def _conv_relu_bn(x, filters: int, kernel, padding=None, normalize: bool = True):
    if padding is not None:
        x = layers.ZeroPadding3D(padding)(x)
    x = layers.Conv3D(filters, kernel, padding="valid", kernel_initializer="he_uniform")(x)
    x = layers.ReLU()(x)
    if normalize:
        x = layers.BatchNormalization(epsilon=1e-6)(x)
    return x


@keras.saving.register_keras_serializable(package=PACKAGE)
class Angle3DGenerator(ShowerGenerator):
    """3DGAN angle generator, 51×51×25, input ``[Ep/100, θ (rad), z ~ N(0,1)^254]``."""

    def __init__(self, conditioning: Conditioning | dict | None = None, **kwargs):
        conditioning = Conditioning.coerce(conditioning, ENERGY_AND_ANGLE)
        latent = keras.Input((conditioning.network_input_size,), name="latent")

        x = layers.Dense(9 * 9 * 8 * 8, name="project")(latent)
        x = layers.Reshape((9, 9, 8, 8))(x)
        x = layers.UpSampling3D((6, 6, 6))(x)

        x = _conv_relu_bn(x, 8, (6, 6, 8))
        for _ in range(3):
            x = _conv_relu_bn(x, 6, (4, 4, 6), padding=(2, 2, 1))
        x = _conv_relu_bn(x, 6, (3, 3, 5), padding=(1, 1, 0))
        x = _conv_relu_bn(x, 6, (3, 3, 3), padding=(1, 1, 0), normalize=False)

        x = layers.Conv3D(1, (2, 2, 2), kernel_initializer="glorot_normal")(x)
        shower = layers.ReLU(name="shower")(x)

        super().__init__(inputs=latent, outputs=shower, conditioning=conditioning, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Angle3DDiscriminator(ShowerDiscriminator):
    """3DGAN angle discriminator for 51×51×25 images carrying the pixel transform ``X**power``."""

    def __init__(self, power: float = 0.85, dropout_rate: float = 0.2, **kwargs):
        image = keras.Input((51, 51, 25, 1), name="shower")

        x = layers.Conv3D(16, (5, 6, 6), padding="same")(image)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(dropout_rate)(x)
        for padding in ((0, 0, 1), (0, 0, 1), None):
            if padding is not None:
                x = layers.ZeroPadding3D(padding)(x)
            x = layers.Conv3D(8, (5, 6, 6), padding="valid")(x)
            x = layers.LeakyReLU()(x)
            x = layers.BatchNormalization(epsilon=1e-6)(x)
            x = layers.Dropout(dropout_rate)(x)
        x = layers.AveragePooling3D(2)(x)
        features = layers.Flatten()(x)

        outputs = discriminator_heads(features, image, power=power, angle=True)
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.power = power
        self.dropout_rate = dropout_rate

    def get_config(self):
        return {**super().get_config(), "power": self.power, "dropout_rate": self.dropout_rate}
