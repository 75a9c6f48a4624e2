"""3DGAN of Khattak et al.: Conv3D generator and discriminator on the 25×25×25 grid, energy only.

Generator: z·Ep/100 → Dense → 7×7×8×8 volume → three Conv3D stages with up-sampling → 25³.
Discriminator: four Conv3D stages → average pooling → real/fake and energy heads, plus the
voxel sum of the input.
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.conditioning import ENERGY_ONLY, Conditioning
from calozoo.models.base import ShowerDiscriminator, ShowerGenerator, discriminator_heads
from calozoo.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv3DGenerator(ShowerGenerator):
    """3DGAN generator, 25×25×25, conditioned by scaling the latent vector with Ep/100."""

    def __init__(self, conditioning: Conditioning | dict | None = None, **kwargs):
        conditioning = Conditioning.coerce(conditioning, ENERGY_ONLY)
        latent = keras.Input((conditioning.network_input_size,), name="latent")

        x = layers.Dense(7 * 7 * 8 * 8, name="project")(latent)
        x = layers.Reshape((7, 7, 8, 8))(x)

        x = layers.Conv3D(64, (6, 6, 8), padding="same", kernel_initializer="he_uniform")(x)
        x = layers.LeakyReLU()(x)
        x = layers.BatchNormalization(epsilon=1e-6)(x)

        x = layers.UpSampling3D((2, 2, 2))(x)
        x = layers.ZeroPadding3D((2, 2, 0))(x)
        x = layers.Conv3D(6, (6, 5, 8), padding="valid", kernel_initializer="he_uniform")(x)
        x = layers.LeakyReLU()(x)
        x = layers.BatchNormalization(epsilon=1e-6)(x)

        x = layers.UpSampling3D((2, 2, 3))(x)
        x = layers.ZeroPadding3D((1, 0, 3))(x)
        x = layers.Conv3D(6, (3, 3, 8), padding="valid", kernel_initializer="he_uniform")(x)
        x = layers.LeakyReLU()(x)

        x = layers.Conv3D(1, (2, 2, 2), use_bias=False, kernel_initializer="glorot_normal")(x)
        shower = layers.ReLU(name="shower")(x)

        super().__init__(inputs=latent, outputs=shower, conditioning=conditioning, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class Conv3DDiscriminator(ShowerDiscriminator):
    """3DGAN discriminator for 25×25×25 showers (cells in GeV)."""

    def __init__(self, dropout_rate: float = 0.2, **kwargs):
        image = keras.Input((25, 25, 25, 1), name="shower")

        x = layers.Conv3D(32, 5, padding="same")(image)
        x = layers.LeakyReLU()(x)
        x = layers.Dropout(dropout_rate)(x)
        for padding in (2, 2, 1):
            x = layers.ZeroPadding3D(padding)(x)
            x = layers.Conv3D(8, 5, padding="valid")(x)
            x = layers.LeakyReLU()(x)
            x = layers.BatchNormalization(epsilon=1e-6)(x)
            x = layers.Dropout(dropout_rate)(x)
        x = layers.AveragePooling3D(2)(x)
        features = layers.Flatten()(x)

        outputs = discriminator_heads(features, image)
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.dropout_rate = dropout_rate

    def get_config(self):
        return {**super().get_config(), "dropout_rate": self.dropout_rate}
