"""G2 of Rehm et al.: 25 Conv2D branches, each producing one single-channel 25×25 map.

z·Ep/100 → Dense → 5×5×5 → 25× [ConvT ×3 → conv 32 → ConvT ×2 → convs 32, 32, 16, 1]
→ concatenate the 25 maps as channels → conv 25 (5×5) → Conv2D 25 (3×3) → (25, 25, 25, 1).
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.conditioning import ENERGY_ONLY, Conditioning
from calozoo.models.base import ShowerGenerator
from calozoo.models.conv2d_blocks import (
    conv_block, stem, to_volume, upsample,
)
from calozoo.models.layers import PACKAGE


def _branch(x):
    x = upsample(x, 32, stride=3)                     # 15×15
    x = conv_block(x, 32, 4)
    x = upsample(x, 32, stride=2)                     # 30×30
    x = conv_block(x, 32, 5, padding="valid")         # 26×26
    x = conv_block(x, 32, 3)
    x = conv_block(x, 16, 2, padding="valid")         # 25×25
    return conv_block(x, 1, 1, use_bias=True)


@keras.saving.register_keras_serializable(package=PACKAGE)
class G2TwentyFiveBranchGenerator(ShowerGenerator):
    """G2, 25 branches (2,131,000 parameters)."""

    def __init__(self, branches: int = 25, conditioning: Conditioning | dict | None = None,
                 **kwargs):
        conditioning = Conditioning.coerce(conditioning, ENERGY_ONLY)
        latent = keras.Input((conditioning.network_input_size,), name="latent")
        grid = stem(latent)

        x = layers.Concatenate()([_branch(grid) for _ in range(branches)])
        x = conv_block(x, 25, 5)
        x = layers.Conv2D(25, 3, padding="same", use_bias=False)(x)
        shower = to_volume(x)

        super().__init__(inputs=latent, outputs=shower, conditioning=conditioning, **kwargs)
        self.branches = branches

    def get_config(self):
        return {**super().get_config(), "branches": self.branches}
