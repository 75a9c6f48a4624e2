"""G1 of Rehm et al.: three Conv2D branches, one per view of the 25³ grid.

z·Ep/100 → Dense → 5×5×5 → for each of the three views (x, Permute(3,1,2), Permute(2,3,1)):
conv 32 → ConvT ×3 → conv 64 → ConvT ×2 → convs 64, 64, 32, 32, 25 → (25, 25, 25);
the views are turned back, concatenated (75 channels) and merged by a 3×3 Conv2D → final ReLU.
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.conditioning import ENERGY_ONLY, Conditioning
from calozoo.models.base import ShowerGenerator
from calozoo.models.conv2d_blocks import (
    VIEWS, conv_block, permute, stem, to_volume, upsample,
)
from calozoo.models.layers import PACKAGE, SwitchableReLU


def _branch(x):
    x = conv_block(x, 32, 5, initializer="glorot_uniform")
    x = upsample(x, 64, stride=3)                     # 15×15
    x = conv_block(x, 64, 5)
    x = upsample(x, 64, stride=2)                     # 30×30
    x = conv_block(x, 64, 8)
    x = conv_block(x, 64, 5, padding="valid")         # 26×26
    x = conv_block(x, 32, 4)
    x = conv_block(x, 32, 3)
    return conv_block(x, 25, 2, padding="valid")      # 25×25, 25 channels


@keras.saving.register_keras_serializable(package=PACKAGE)
class G1ThreeBranchGenerator(ShowerGenerator):
    """G1, three branches (2,055,324 parameters).

    Parameters
    ----------
    final_relu
        Whether the final ReLU is on (the inference form; training turns it on at epoch 3).
    """

    def __init__(self, final_relu: bool = True, conditioning: Conditioning | dict | None = None,
                 **kwargs):
        conditioning = Conditioning.coerce(conditioning, ENERGY_ONLY)
        latent = keras.Input((conditioning.network_input_size,), name="latent")
        grid = stem(latent)

        views = [permute(_branch(permute(grid, forward)), back) for forward, back in VIEWS]
        x = layers.Concatenate()(views)
        x = layers.Conv2D(25, 3, padding="same", use_bias=False)(x)
        x = to_volume(x)
        shower = SwitchableReLU(enabled=final_relu, name="final_relu")(x)

        super().__init__(inputs=latent, outputs=shower, conditioning=conditioning, **kwargs)
        self.final_relu = final_relu

    def get_config(self):
        return {**super().get_config(), "final_relu": self.final_relu}
