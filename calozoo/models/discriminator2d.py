"""Three-branch Conv2D discriminator of Rehm et al. (and the deeper variant G3 was trained with).

(25, 25, 25, 1) → (25, 25, 25) → three views → per view: conv 64 8×8 → convs 32@6, 32@5, 32@4
valid [→ deeper: 32@6, 32@4, 32@3 same] → 32@3, 9@3 valid → (9, 9, 9); views turned back,
concatenated (9, 9, 27) → Flatten → Dense 10 → LeakyReLU → BN → real/fake and energy heads,
plus the voxel sum of the input.
"""

from __future__ import annotations

import keras
from keras import layers

from calozoo.models.base import ShowerDiscriminator, discriminator_heads
from calozoo.models.conv2d_blocks import VIEWS, conv_block, permute
from calozoo.models.layers import PACKAGE


def _branch(x, deeper: bool):
    x = conv_block(x, 64, 8)
    x = conv_block(x, 32, 6, padding="valid")          # 20×20
    x = conv_block(x, 32, 5, padding="valid")          # 16×16
    x = conv_block(x, 32, 4, padding="valid")          # 13×13
    if deeper:
        for kernel in (6, 4, 3):
            x = conv_block(x, 32, kernel)
    x = conv_block(x, 32, 3, padding="valid")          # 11×11
    return conv_block(x, 9, 3, padding="valid")        # 9×9, 9 channels


@keras.saving.register_keras_serializable(package=PACKAGE)
class ThreeBranchDiscriminator(ShowerDiscriminator):
    """Conv2D discriminator with three view branches (714,114 parameters; deeper: 902,658).

    Parameters
    ----------
    deeper
        Add three same-padded 32-filter blocks per branch (the variant trained with G3).
    """

    def __init__(self, deeper: bool = False, **kwargs):
        image = keras.Input((25, 25, 25, 1), name="shower")
        grid = layers.Reshape((25, 25, 25))(image)

        views = [permute(_branch(permute(grid, forward), deeper), back)
                 for forward, back in VIEWS]
        x = layers.Concatenate()(views)
        x = layers.Flatten()(x)
        x = layers.Dense(10)(x)
        x = layers.LeakyReLU()(x)
        features = layers.BatchNormalization()(x)

        outputs = discriminator_heads(features, image)
        super().__init__(inputs=image, outputs=outputs, **kwargs)
        self.deeper = deeper

    def get_config(self):
        return {**super().get_config(), "deeper": self.deeper}
