"""The published training recipes, as data (SPEC §1–3): one ``Recipe`` per zoo model, and
beside each the hyper-parameter space that ``calozoo tune`` searches around it."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path


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

    def __post_init__(self):
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"recipe: optimizer must be 'rmsprop' or 'adam', got "
                             f"{self.optimizer!r}")
        for field in ("batch_size", "generator_steps", "files_per_epoch"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"recipe: {field} must be a positive integer, got {value!r}")
        for field in ("generator_lr", "discriminator_lr"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"recipe: {field} must be a positive number, got {value!r}")
        if not 0.0 <= self.label_flip <= 1.0:
            raise ValueError(f"recipe: label_flip must be in [0, 1], got {self.label_flip}")
        for head, weight in self.loss_weights.items():
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
                raise ValueError(f"recipe: loss weight of {head!r} must be a non-negative "
                                 f"number, got {weight!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, values: dict) -> Recipe:
        """This recipe with ``values`` changed; ``"loss_weights.HEAD"`` names one weight.
        Lists become tuples where the field holds one; unknown names are refused."""
        fields = {field.name for field in dataclasses.fields(self)}
        changes: dict = {}
        weights = dict(self.loss_weights)
        for key, value in values.items():
            if key.startswith("loss_weights."):
                head = key.removeprefix("loss_weights.")
                if head not in weights:
                    raise ValueError(f"recipe: no loss head {head!r} (this model's heads: "
                                     f"{', '.join(sorted(weights))})")
                weights[head] = value
            elif key == "loss_weights":
                if not isinstance(value, dict) or set(value) != set(weights):
                    raise ValueError(f"recipe: loss_weights must give exactly the heads "
                                     f"{', '.join(sorted(weights))}")
                weights = dict(value)
            elif key in fields:
                if isinstance(value, list):
                    value = tuple(value)
                changes[key] = value
            else:
                raise ValueError(f"recipe: unknown setting {key!r}")
        if weights != self.loss_weights:
            changes["loss_weights"] = weights
        return dataclasses.replace(self, **changes)

    def changes_from(self, other: Recipe) -> dict:
        """The settings in which this recipe differs from ``other``."""
        mine, theirs = _plain(self.to_dict()), _plain(other.to_dict())
        return {key: value for key, value in mine.items() if theirs.get(key) != value}


def _plain(values: dict) -> dict:
    """JSON's view of a recipe dict (tuples as lists), for comparison and writing."""
    return json.loads(json.dumps(values))


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
    """The published recipe of ``name``."""
    from calozoo import registry

    registry.entry(name)
    return RECIPES[name]


def check_recipe(candidate: Recipe, name: str) -> None:
    """Refuse a recipe whose loss heads are not those of ``name``'s discriminator."""
    heads = set(recipe(name).loss_weights)
    if set(candidate.loss_weights) != heads:
        raise ValueError(f"the recipe's loss heads ({', '.join(sorted(candidate.loss_weights))})"
                         f" are not {name}'s ({', '.join(sorted(heads))}); is it a recipe of "
                         "another model?")


def read_settings(path: str | os.PathLike, what: str) -> dict:
    """A JSON object, or YAML when the name ends in .yaml/.yml (PyYAML, which optuna brings)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot read the {what} ({error})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); or "
                              "write the file as JSON") from None
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: damaged {what} ({error})") from None
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: damaged {what} ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: the {what} must be a mapping of settings")
    return values


def load_recipe(path: str | os.PathLike, name: str) -> Recipe:
    """A recipe file for ``name``: a JSON (or YAML) mapping of ``Recipe`` settings; those it
    does not give keep the published recipe's values. An optional ``"model"`` must be ``name``;
    ``"notes"`` (e.g. where a tuned recipe came from) is kept out of the recipe. This is the
    file ``calozoo tune`` writes and ``calozoo train --recipe`` reads."""
    values = read_settings(path, "recipe file")
    model = values.pop("model", name)
    values.pop("notes", None)
    if model != name:
        raise ValueError(f"{path}: a recipe of {model}, not of {name}")
    try:
        loaded = recipe(name).replace(values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {error}") from None
    check_recipe(loaded, name)
    return loaded


def write_recipe(path: str | os.PathLike, name: str, values: Recipe,
                 notes: dict | None = None) -> Path:
    """Write ``values`` as a recipe file of ``name`` (atomically) that ``load_recipe`` reads."""
    path = Path(path)
    record = {"model": name, **_plain(values.to_dict())}
    if notes:
        record["notes"] = _plain(notes)
    from calozoo._files import publish, temporary_file

    staging = temporary_file(path)      # unique: workers of one study may write at once
    staging.write_text(json.dumps(record, indent=2) + "\n")
    return publish(staging, path, overwrite=True)


# Search spaces: per setting a range {"low", "high"[, "log"]} or {"choices": [...]}.
_THREE_DGAN_SPACE = {
    "generator_lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "discriminator_lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "generator_steps": {"low": 1, "high": 3},
    "loss_weights.generation": {"low": 0.5, "high": 8.0, "log": True},
    "loss_weights.auxiliary": {"low": 0.025, "high": 0.4, "log": True},
    "loss_weights.ecal": {"low": 0.025, "high": 0.4, "log": True},
    "batch_size": {"choices": [32, 64, 128]},
}
_REHM_SPACE = {
    "generator_lr": {"low": 5e-5, "high": 5e-3, "log": True},
    "discriminator_lr": {"low": 1e-5, "high": 1e-3, "log": True},
    "generator_steps": {"low": 1, "high": 2},
    "loss_weights.generation": {"low": 1.5, "high": 24.0, "log": True},
    "loss_weights.auxiliary": {"low": 0.05, "high": 0.8, "log": True},
    "loss_weights.ecal": {"low": 0.025, "high": 0.4, "log": True},
    "batch_size": {"choices": [64, 128, 256]},
}

SEARCH_SPACES: dict[str, dict[str, dict]] = {
    "conv3d": _THREE_DGAN_SPACE,
    "3dgan-angle": {**_THREE_DGAN_SPACE,
                    "loss_weights.angle_rad": {"low": 6.25, "high": 100.0, "log": True}},
    "g1-3branch": _REHM_SPACE,
    "g2-25branch": _REHM_SPACE,
    "g3-1branch": _REHM_SPACE,
}
"""What ``calozoo tune`` searches per model, around the published recipe: both learning rates
(log), the generator steps per discriminator step, the loss weights (log), the batch size."""

CPU_BATCH_SIZES: dict[str, list[int]] = {
    "conv3d": [8, 16], "3dgan-angle": [8, 16],
    "g1-3branch": [16, 32], "g2-25branch": [16, 32], "g3-1branch": [16, 32],
}
"""The batch sizes searched on a machine without an accelerator, in place of those of
``SEARCH_SPACES``: a trial's cost grows with its batch, and a conv3d training step costs
about 0.2 s per shower on two CPU cores (its discriminator alone 1.2 GFLOP per shower)."""
