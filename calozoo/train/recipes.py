"""The published training recipes, as data (SPEC §1–3): one ``Recipe`` per zoo model."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a zoo model was trained.

    Attributes
    ----------
    loss_weights
        Weight of each discriminator head's loss: ``generation`` (BCE), ``auxiliary`` (MAPE on
        Ep/100), ``ecal`` (MAPE on the voxel sum against the energy fit) and ``angle_rad``
        (MAE on the angle, angle models).
    batch_size
        Showers per batch.
    optimizer
        ``"rmsprop"`` or ``"adam"``.
    generator_lr, discriminator_lr
        Learning rates.
    lr_decay, lr_decay_after
        Both rates × exp(−lr_decay·(s − lr_decay_after)) once s > lr_decay_after, where s
        counts training files seen (``files_per_epoch`` a epoch); 0 disables.
    real_label, fake_label, generator_label
        Targets of the real/fake head; ``label_flip`` of them are flipped per batch.
    generator_steps
        Generator updates per batch (through the frozen discriminator).
    fake_energy_range
        Ep/100 of generated showers during training: U(low, high).
    warmup_epochs, warmup_energy_range
        Epochs at the start that draw Ep/100 from the warm-up range instead.
    relu_switch_epoch
        0-based epoch from which G1's final ReLU is on (None: always as built).
    power, cell_scale, min_total
        Data preprocessing: cells × cell_scale, raised to power; showers whose scaled sum is
        ≤ min_total are dropped.
    cell_threshold
        Cells below this (GeV) are set to 0 before scaling.
    """

    loss_weights: dict[str, float]
    batch_size: int
    optimizer: str
    generator_lr: float
    discriminator_lr: float
    real_label: float = 1.0
    fake_label: float = 0.0
    generator_label: float = 1.0
    label_flip: float = 0.05
    generator_steps: int = 2
    fake_energy_range: tuple[float, float] = (0.1, 5.0)
    warmup_epochs: int = 0
    warmup_energy_range: tuple[float, float] | None = None
    lr_decay: float = 0.0
    lr_decay_after: float = 0.0
    files_per_epoch: int = 20
    rho: float = 0.9
    relu_switch_epoch: int | None = None
    power: float = 1.0
    cell_scale: float = 1.0
    min_total: float | None = None
    cell_threshold: float = 1e-6

    def learning_rates(self, files_seen: float) -> tuple[float, float]:
        """(generator, discriminator) learning rates after ``files_seen`` training files."""
        import math

        factor = 1.0
        if self.lr_decay and files_seen > self.lr_decay_after:
            factor = math.exp(-self.lr_decay * (files_seen - self.lr_decay_after))
        return self.generator_lr * factor, self.discriminator_lr * factor

    def energy_range(self, epoch: int) -> tuple[float, float]:
        """Ep/100 range of generated showers in ``epoch`` (0-based)."""
        if epoch < self.warmup_epochs and self.warmup_energy_range:
            return self.warmup_energy_range
        return self.fake_energy_range

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_THREE_DGAN = dict(optimizer="rmsprop", generator_lr=1e-3, discriminator_lr=1e-3,
                   generator_steps=2, real_label=1.0, generator_label=1.0)
_REHM = dict(
    loss_weights={"generation": 6.0, "auxiliary": 0.2, "ecal": 0.1}, batch_size=128,
    optimizer="adam", generator_lr=5e-4, discriminator_lr=1e-4, real_label=0.9,
    generator_label=0.9, generator_steps=1, fake_energy_range=(0.02, 5.0), warmup_epochs=2,
    warmup_energy_range=(1.0, 4.0), lr_decay=0.012, lr_decay_after=80.0)

RECIPES: dict[str, Recipe] = {
    "conv3d": Recipe(loss_weights={"generation": 2.0, "auxiliary": 0.1, "ecal": 0.1},
                     batch_size=128, **_THREE_DGAN),
    "3dgan-angle": Recipe(
        loss_weights={"generation": 3.0, "auxiliary": 0.1, "angle_rad": 25.0, "ecal": 0.1},
        batch_size=64, fake_energy_range=(0.02, 5.0), power=0.85, cell_scale=50.0,
        min_total=10.0, cell_threshold=0.0, **_THREE_DGAN),
    "g1-3branch": Recipe(**_REHM, relu_switch_epoch=2),
    "g2-25branch": Recipe(**_REHM),
    "g3-1branch": Recipe(**_REHM),
}


def recipe(name: str) -> Recipe:
    from calozoo import registry

    registry.entry(name)
    return RECIPES[name]
