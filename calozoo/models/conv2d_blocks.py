"""Building blocks shared by the Conv2D architectures of Rehm et al.

A 25×25×25 grid is handled as a 2D image with 25 channels; the three "views" of the grid are
the permutations that put each axis in the channel position.
"""

from __future__ import annotations

from keras import layers

# Permutation that makes a view, and the one that turns it back into (x, y, z) order.
VIEWS = (((1, 2, 3), (1, 2, 3)), ((3, 1, 2), (2, 3, 1)), ((2, 3, 1), (3, 1, 2)))


def conv_block(x, filters: int, kernel: int, padding: str = "same", *, dropout_rate: float = 0.2,
               initializer: str = "he_uniform", use_bias: bool = False):
    """Conv2D (no bias) → LeakyReLU → BatchNormalization → Dropout."""
    x = layers.Conv2D(filters, kernel, padding=padding, use_bias=use_bias,
                      kernel_initializer=initializer)(x)
    x = layers.LeakyReLU()(x)
    x = layers.BatchNormalization()(x)
    return layers.Dropout(dropout_rate)(x)


def upsample(x, filters: int, stride: int):
    """Conv2DTranspose 5×5 with bias, 'same' padding: multiplies height and width by stride."""
    return layers.Conv2DTranspose(filters, 5, strides=stride, padding="same")(x)


def stem(latent):
    """z (200) → Dense(125) → a 5×5 image with 5 channels."""
    x = layers.Dense(125, name="project")(latent)
    return layers.Reshape((5, 5, 5))(x)


def permute(x, dims: tuple[int, int, int]):
    return x if dims == (1, 2, 3) else layers.Permute(dims)(x)


def to_volume(x):
    """(25, 25, 25) image with channels → (25, 25, 25, 1) shower volume."""
    return layers.Reshape((25, 25, 25, 1))(x)
