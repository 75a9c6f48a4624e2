"""Training entry points: ``train`` and ``finetune`` (also behind ``calozoo train/finetune``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from calozoo import registry
from calozoo.data import Showers
from calozoo.data.showers import check_whole
from calozoo.train.data import TrainingData
from calozoo.train.recipes import Recipe, load_recipe, recipe as recipe_of
from calozoo.train.trainer import Trainer, check_run_dir, last_checkpoint, read_json


def training_data(name: str, data=None, *, simulate: int = 0, detector: str = "clic-wsi",
                  batch_size: int, seed: int, workers: int | None = 1) -> TrainingData:
    """A model's training data from path(s), Showers, an iterable of Showers, or simulation."""
    entry = registry.entry(name)
    conditioning = entry.conditioning
    paths, showers = (), ()
    if isinstance(data, (str, os.PathLike)):
        paths = (data,)
    elif isinstance(data, Showers):
        showers = (data,)
    elif data is not None:
        items = list(data) if isinstance(data, Iterable) else [data]
        if all(isinstance(item, (str, os.PathLike)) for item in items):
            paths = tuple(items)
        elif all(isinstance(item, Showers) for item in items):
            showers = tuple(items)
        else:
            raise ValueError("data must be path(s), Showers or an iterable of Showers")
    return TrainingData(
        shape=entry.shape, with_angles="angle" in conditioning.conditions,
        energy_range=conditioning.energy_range, angle_range=conditioning.angle_range,
        batch_size=batch_size, seed=seed, paths=paths, showers=showers, simulate=simulate,
        detector=detector, workers=workers)


def train(name: str, out_dir: str | os.PathLike, data=None, *, epochs: int,
          simulate: int = 0, detector: str = "clic-wsi", batch_size: int | None = None,
          seed: int = 0, precision: str = "float32", resume: bool = False,
          progress: bool = True, max_minutes: float | None = None,
          workers: int | None = 1, keep_checkpoints: int | None = None,
          devices: int | str | None = None,
          recipe: Recipe | str | os.PathLike | None = None) -> Trainer:
    """Train ``name`` from scratch with its recipe (or resume ``out_dir``).

    ``recipe`` replaces the published recipe: a ``Recipe`` or a recipe file (what
    ``calozoo tune`` writes; :func:`~calozoo.train.load_recipe`). A resumed run keeps the
    recipe it was started with.
    ``max_minutes`` ends the run at the last epoch end within that wall-clock budget (at least
    one epoch runs; continue it with ``resume=True``). ``workers`` processes simulate the
    showers of ``simulate`` (None: all cores but one, up to 16; more than one needs the
    ``if __name__ == "__main__":`` guard in scripts). ``keep_checkpoints`` keeps only that
    many of the newest checkpoints (None: all). ``devices`` (a count or ``"all"``, JAX only)
    trains data-parallel with the recipe's global batch split over the devices.
    """
    check_arguments(epochs=epochs, simulate=simulate, batch_size=batch_size, seed=seed,
                    max_minutes=max_minutes, workers=workers,
                    keep_checkpoints=keep_checkpoints)
    check_run_dir(out_dir, name)
    checkpoint = last_checkpoint(out_dir)
    if checkpoint is not None and not resume:
        raise ValueError(f"{out_dir} already holds a run (last: {checkpoint.name}); use "
                         "--resume to continue it, or another --out")
    recipe = _recipe_argument(recipe, name)
    if checkpoint is not None:
        recipe = _resumed_recipe(out_dir, name, recipe)
    trainer = Trainer(name, out_dir, precision=precision, seed=seed, batch_size=batch_size,
                      keep_checkpoints=keep_checkpoints, devices=devices, recipe=recipe)
    if checkpoint is not None:
        _check_same_run(out_dir, seed=seed, precision=precision,
                        batch_size=trainer.batch_size, simulate=simulate,
                        detector=detector if simulate else None)
        trainer.restore(checkpoint)
    source = training_data(name, data, simulate=simulate, detector=detector,
                           batch_size=trainer.batch_size, seed=seed, workers=workers)
    with source:
        trainer.train(source, epochs, progress=progress, max_minutes=max_minutes)
    return trainer


def check_arguments(*, epochs, simulate, batch_size, seed, max_minutes, workers,
                    keep_checkpoints) -> None:
    """Refuse impossible training settings before anything is created."""
    check_whole(epochs, "epochs", 1)
    check_whole(simulate, "simulate (showers per epoch)", 0)
    check_whole(seed, "seed", 0)
    if batch_size is not None:
        check_whole(batch_size, "batch_size", 1)
    if workers is not None:
        check_whole(workers, "workers", 1)
    if keep_checkpoints is not None:
        check_whole(keep_checkpoints, "keep_checkpoints", 1)
    if max_minutes is not None and not (isinstance(max_minutes, (int, float)) and
                                        max_minutes >= 0 and np.isfinite(max_minutes)):
        raise ValueError(f"max_minutes must be a number ≥ 0, got {max_minutes!r}")


def _check_same_run(out_dir, **settings) -> None:
    """A resumed run keeps the seed, precision, batch size and simulated data it was started
    with (each changes the batches, and with them the schedule)."""
    run = read_json(Path(out_dir) / "run.json", "run record")
    run.update({key: run.get("data", {}).get(key) for key in ("simulate", "detector")})
    for key, value in settings.items():
        if key in run and run[key] != value:
            flag = "--" + key.replace("_", "-")
            raise ValueError(f"{out_dir} was started with {key} {run[key]!r}; resume it with "
                             f"the same {flag} (got {value!r})")


def _recipe_argument(recipe, name: str) -> Recipe | None:
    if recipe is None or isinstance(recipe, Recipe):
        return recipe
    return load_recipe(recipe, name)


def _resumed_recipe(out_dir, name: str, recipe: Recipe | None) -> Recipe | None:
    """The recipe a run was started with (run.json); a different one given is refused."""
    stored = read_json(Path(out_dir) / "run.json", "run record").get("recipe")
    if stored is None:
        return recipe
    try:
        started = recipe_of(name).replace(stored)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{out_dir}/run.json: damaged recipe ({error})") from None
    if recipe is not None and recipe.changes_from(started):
        changed = ", ".join(sorted(recipe.changes_from(started)))
        raise ValueError(f"{out_dir} was started with another recipe (differs in {changed}); "
                         "resume it without --recipe or with the same one")
    return started


def _starting_point(name: str, weights):
    """Generator and discriminator to start from: weights tag/path, or a run directory."""
    from calozoo import api

    if weights is not None and Path(weights).is_dir() and last_checkpoint(weights):
        check_run_dir(weights, name)
        starter = Trainer(name, tempfile.mkdtemp(prefix="calozoo-start-"))
        starter.restore(last_checkpoint(weights))
        return starter.generator, starter.discriminator
    generator = api.load(name, weights=weights)
    discriminator = None
    if weights is not None and not Path(weights).is_file():   # a single file is a generator
        try:
            discriminator = api.load(name, part="discriminator", weights=weights)
        except FileNotFoundError:
            pass
    return generator, discriminator


def finetune(name: str, data=None, *, epochs: int, weights="default",
             learning_rate: float | None = None, freeze: Sequence[str] = (),
             out_dir: str | os.PathLike | None = None, simulate: int = 0,
             detector: str = "clic-wsi", batch_size: int | None = None, seed: int = 0,
             precision: str = "float32", progress: bool = True,
             max_minutes: float | None = None, workers: int | None = 1,
             keep_checkpoints: int | None = None, devices: int | str | None = None,
             recipe: Recipe | str | os.PathLike | None = None):
    """Fine-tune a zoo generator on new data, starting from ``weights``.

    Parameters
    ----------
    data
        Path(s) of shower files, Showers, or an iterable of Showers (or ``simulate=N`` showers
        per epoch from ``detector``, e.g. ``"pbwo4"``).
    weights
        ``"default"``, a tag, a weights path, or a run directory (its last checkpoint).
    learning_rate
        Generator learning rate (the discriminator's keeps the recipe's ratio); None keeps
        the recipe's rates.
    freeze
        fnmatch patterns of layer names to keep fixed, e.g. ``("project", "conv3d*")``.
    max_minutes, workers, keep_checkpoints
        Wall-clock budget, simulation processes and checkpoints kept, as for ``train``; a
        fine-tuning run that the budget stops continues as a new one with
        ``weights=<its out_dir>``.
    devices
        Data-parallel over this many local devices (or ``"all"``), JAX only, as for
        ``train``.
    recipe
        A ``Recipe`` or recipe file to train with instead of the published one (e.g. the
        one ``calozoo tune`` found).

    Returns
    -------
    ShowerGenerator
        The fine-tuned generator (its run directory is ``out_dir``).
    """
    check_arguments(epochs=epochs, simulate=simulate, batch_size=batch_size, seed=seed,
                    max_minutes=max_minutes, workers=workers,
                    keep_checkpoints=keep_checkpoints)
    out_dir = Path(out_dir or tempfile.mkdtemp(prefix=f"calozoo-finetune-{name}-"))
    check_run_dir(out_dir, name)
    if last_checkpoint(out_dir) is not None:
        raise ValueError(f"{out_dir} already holds a run; fine-tune into another directory (or "
                         "start from it with weights=that directory)")
    recipe = _recipe_argument(recipe, name)
    generator, discriminator = _starting_point(name, weights)
    trainer = Trainer(name, out_dir, generator=generator, discriminator=discriminator,
                      precision=precision, seed=seed, batch_size=batch_size,
                      learning_rate=learning_rate, freeze=freeze,
                      keep_checkpoints=keep_checkpoints, devices=devices, recipe=recipe)
    if freeze and not trainer.frozen:
        raise ValueError(f"no layer matches the freeze patterns {list(freeze)}")
    source = training_data(name, data, simulate=simulate, detector=detector,
                           batch_size=trainer.batch_size, seed=seed, workers=workers)
    with source:
        trainer.train(source, epochs, progress=progress, max_minutes=max_minutes)
    return trainer.generator
