"""G3 of Rehm et al.: a single Conv2D branch whose output is refined by three passes with skips.

z·Ep/100 → Dense → 5×5×5 → trunk (conv 32 → ConvT ×3 → conv 64 → ConvT ×2 → conv 64 6×6 valid)
→ (25, 25, 64). A "seq" of six same-padded convs (64@9, 64@7, 64@5, 64@5, 32@4, 25@4) is applied
three times, each with its own weights:
p1 = seq(trunk), p2 = seq(Permute(3,1,2)(p1)), p3 = seq(Permute(2,3,1)(p1 + p2));
p1 + p2 + p3 → conv 25 4×4 → Conv2D 25 3×3 → (25, 25, 25, 1).
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.conditioning import ENERGY_ONLY, Conditioning
from calozoo.models.base import ShowerGenerator
from calozoo.models.conv2d_blocks import (
    conv_block, permute, stem, to_volume, upsample,
)
from calozoo.models.layers import PACKAGE

SEQ_BLOCKS = ((64, 9), (64, 7), (64, 5), (64, 5), (32, 4), (25, 4))


def _seq(x):
    for filters, kernel in SEQ_BLOCKS:
        x = conv_block(x, filters, kernel)
    return x


@keras.saving.register_keras_serializable(package=PACKAGE)
class G3OneBranchGenerator(ShowerGenerator):
    """G3, one branch with skip connections (2,397,022 parameters)."""

    def __init__(self, conditioning: Conditioning | dict | None = None, **kwargs):
        conditioning = Conditioning.coerce(conditioning, ENERGY_ONLY)
        latent = keras.Input((conditioning.network_input_size,), name="latent")
        x = stem(latent)

        x = conv_block(x, 32, 5, initializer="glorot_uniform")
        x = upsample(x, 64, stride=3)                 # 15×15
        x = conv_block(x, 64, 5)
        x = upsample(x, 64, stride=2)                 # 30×30
        trunk = conv_block(x, 64, 6, padding="valid")  # 25×25, 64 channels

        p1 = _seq(trunk)
        p2 = _seq(permute(p1, (3, 1, 2)))
        p3 = _seq(permute(layers.Add()([p1, p2]), (2, 3, 1)))
        x = layers.Add()([p1, p2, p3])

        x = conv_block(x, 25, 4)
        x = layers.Conv2D(25, 3, padding="same", use_bias=False)(x)
        shower = to_volume(x)

        super().__init__(inputs=latent, outputs=shower, conditioning=conditioning, **kwargs)
