"""Base classes of the zoo's networks (functional models built in ``__init__``, keras-hub style)."""

from __future__ import annotations

from typing import Any

import keras

from calozoo.conditioning import Conditioning
from calozoo.models.layers import PACKAGE


class _ConfigurableModel(keras.Model):
    """A functional model whose config is its constructor's arguments."""

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ShowerGenerator(_ConfigurableModel):
    """A generator of the zoo: maps a network input vector to a shower image ``(X, Y, Z, 1)``.

    Subclasses build their graph and pass ``inputs``/``outputs`` up. ``conditioning`` says how
    energies (GeV), angles (degrees) and noise become the network input, and how the output
    maps back to GeV.
    """

    def __init__(self, *, inputs, outputs, conditioning: Conditioning | dict, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.conditioning = Conditioning.from_dict(conditioning) if isinstance(
            conditioning, dict) else conditioning

    @property
    def latent_size(self) -> int:
        return self.conditioning.latent_size

    @property
    def shape(self) -> tuple[int, int, int]:
        """Output grid (X, Y, Z)."""
        return tuple(self.output_shape[1:4])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "conditioning": self.conditioning.to_dict()}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ShowerDiscriminator(_ConfigurableModel):
    """A discriminator of the zoo: a shower image in, named heads out.

    Heads: ``generation`` (real/fake probability), ``auxiliary`` (primary energy / 100),
    ``ecal`` (voxel sum in GeV) and, for angle models, ``angle_rad`` (measured polar angle).
    """
