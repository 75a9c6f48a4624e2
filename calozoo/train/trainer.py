"""The GAN trainer: the published recipes on TensorFlow or JAX, checkpointed and resumable.

One pure step function per phase (discriminator on real, discriminator on fake, generator
through the frozen discriminator) built on Keras's stateless API, differentiated with the
backend's own autodiff and compiled with XLA (``tf.function(jit_compile=True)`` or
``jax.jit``). All state (weights, optimiser slots, dropout seeds) is explicit, and every
random number on the host derives from (seed, epoch, step), so a resumed run is bit-identical
to an uninterrupted one on the same backend and machine.
"""

from __future__ import annotations

import collections
import csv
import fnmatch
import json
import os
import shutil
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from calozoo import registry
from calozoo.train import losses
from calozoo.train.data import TrainingData, preprocess
from calozoo.train.recipes import Recipe, check_recipe, recipe as recipe_of


CHECKPOINT_PARTS = {"generator": ("g_trainable", "g_other"),
                    "discriminator": ("d_trainable", "d_other"),
                    "g_optimizer": ("g_optimizer",), "d_optimizer": ("d_optimizer",)}
"""The ``.npz`` files of a checkpoint folder (beside its ``state.json``) and the state each
holds."""
LOSS_READ_LAG = 4
"""Steps the host runs ahead of the losses it reads back (keeps the device queue full)."""


def _value_and_grad(loss_fn):
    """JAX: (loss, aux), grads of ``loss_fn(params, *rest)`` with respect to ``params``."""
    import jax
    return jax.value_and_grad(loss_fn, has_aux=True)


def _compile(function):
    """``jax.jit`` on JAX; on TensorFlow a graph function, XLA-compiled on accelerators (on the
    CPU, XLA compiles these GAN steps for minutes and runs them no faster)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        return jax.jit(function)
    import tensorflow as tf

    from calozoo.generation import tf_uses_xla
    return tf.function(function, jit_compile=tf_uses_xla(), reduce_retracing=True)


def writes_files() -> bool:
    """Whether this process writes the run's files (all but process 0 of a multi-host JAX
    run do not)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return jax.process_index() == 0


def _host_array(value) -> np.ndarray:
    """A state value as a numpy array; a replicated multi-host array from its local copy."""
    if hasattr(value, "is_fully_addressable") and not value.is_fully_addressable:
        value = value.addressable_data(0)
    return keras.ops.convert_to_numpy(value)


class DataParallelMesh:
    """JAX devices in a one-axis mesh: state replicated, batches split along their rows."""

    def __init__(self, devices):
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        self.devices = list(devices)
        mesh = Mesh(np.asarray(self.devices), ("data",))
        self._replicated = NamedSharding(mesh, PartitionSpec())
        self._split = NamedSharding(mesh, PartitionSpec("data"))
        self._jax = jax

    def _put(self, value, sharding):
        value = np.asarray(value)
        return self._jax.make_array_from_callback(value.shape, sharding,
                                                  lambda index: value[index])

    def replicate(self, tree):
        return self._jax.tree_util.tree_map(
            lambda value: self._put(value, self._replicated), tree)

    def split(self, tree):
        return self._jax.tree_util.tree_map(lambda value: self._put(value, self._split), tree)


def data_parallel_mesh(devices: int | str | None, batch_size: int) -> DataParallelMesh | None:
    """The mesh for ``devices`` (a count or "all"), None for one device; checked."""
    if devices is None or devices == 1:
        return None
    if keras.backend.backend() != "jax":
        raise ValueError(f"--devices {devices}: data-parallel training runs on the JAX "
                         f"backend (KERAS_BACKEND=jax); this is {keras.backend.backend()}")
    import jax

    available = jax.devices()
    if devices == "all":
        count = len(available)
    elif isinstance(devices, (int, np.integer)) and not isinstance(devices, bool) and \
            devices >= 1:
        count = int(devices)
    else:
        raise ValueError(f"devices must be a positive integer or 'all', got {devices!r}")
    if count > len(available):
        raise ValueError(f"--devices {count}: only {len(available)} "
                         f"{available[0].platform.upper()} device(s) are visible")
    if count == 1:
        return None
    if batch_size % count:
        raise ValueError(f"the batch of {batch_size} showers does not split over {count} "
                         "devices; choose a batch size divisible by the device count")
    return DataParallelMesh(available[:count])


def initialize_distributed(coordinator: str | None = None, processes: int | None = None,
                           process_id: int | None = None) -> bool:
    """Start JAX's multi-host runtime when asked (``coordinator``) or when SLURM ran several
    tasks (``SLURM_NTASKS`` > 1; JAX reads the rest from SLURM). Returns whether it did."""
    slurm = int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1
    if coordinator is None and not slurm:
        return False
    if keras.backend.backend() != "jax":
        raise ValueError("multi-host training runs on the JAX backend (KERAS_BACKEND=jax)")
    import jax

    if coordinator is None:
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=processes,
                                   process_id=process_id)
    return True


def _optimizer(recipe: Recipe, learning_rate: float):
    if recipe.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, rho=recipe.rho)
    return keras.optimizers.Adam(learning_rate)


class Trainer:
    """Trains one zoo model with its recipe into ``out_dir``.

    Parameters
    ----------
    name
        Zoo name.
    out_dir
        Run directory: ``run.json``, ``history.csv``, ``checkpoints/``, ``weights/``.
    generator, discriminator
        Starting networks (default: freshly initialised).
    precision
        ``"float32"`` or ``"bfloat16"`` (mixed: bfloat16 compute, float32 weights).
    seed
        Seed of every random number of the run.
    batch_size, learning_rate
        Override the recipe's batch size / both learning rates (fine-tuning).
    freeze
        fnmatch patterns of layer names (generator and discriminator) not to train.
    keep_checkpoints
        How many of the newest checkpoints to keep (None: all).
    recipe
        The training recipe (default: the published one, ``calozoo.train.recipe(name)``);
        e.g. a tuned one from :func:`calozoo.train.load_recipe`.
    devices
        Data-parallel training over this many local accelerators (or ``"all"``), JAX only:
        the weights are replicated, each step's batch (the recipe's global batch) is split
        over the devices, and ``jax.jit`` reduces the gradients, so the maths is the
        single-device step's. Checkpoints hold plain arrays and resume on any device count.
    """

    def __init__(self, name: str, out_dir: str | os.PathLike, *, generator=None,
                 discriminator=None, precision: str = "float32", seed: int = 0,
                 batch_size: int | None = None, learning_rate: float | None = None,
                 freeze: Sequence[str] = (), keep_checkpoints: int | None = None,
                 recipe: Recipe | None = None, devices: int | str | None = None):
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be 'float32' or 'bfloat16', got {precision!r}")
        if keep_checkpoints is not None and keep_checkpoints < 1:
            raise ValueError(f"keep_checkpoints must be at least 1, got {keep_checkpoints}")
        self.keep_checkpoints = keep_checkpoints
        self.name = name
        self.entry = registry.entry(name)
        base = recipe_of(name)
        if recipe is not None:
            check_recipe(recipe, name)
            base = recipe
        self.recipe = base
        self.batch_size = batch_size or base.batch_size
        self.learning_rate = learning_rate
        self.precision, self.seed = precision, int(seed)
        self.out_dir = Path(out_dir)
        self.freeze = tuple(freeze)
        # Fresh weights and dropout seeds follow from the run's seed.
        keras.utils.set_random_seed(self.seed)
        self.generator = self._prepared(generator, "generator")
        self.discriminator = self._prepared(discriminator, "discriminator")
        g_lr, d_lr = self._rates(0.0)
        self.g_optimizer = _optimizer(base, g_lr)
        self.d_optimizer = _optimizer(base, d_lr)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self._lr_index = {key: next(i for i, v in enumerate(optimizer.variables)
                                    if "learning_rate" in v.path)
                          for key, optimizer in (("g_optimizer", self.g_optimizer),
                                                 ("d_optimizer", self.d_optimizer))}
        self.state = self._collect_state()
        self._mesh = data_parallel_mesh(devices, self.batch_size)
        self.energy_fit: losses.EnergyFit | None = None
        self.epoch = 0
        self._steps = None

    # construction ---------------------------------------------------------------------

    def _prepared(self, model, part: str):
        policy = "mixed_bfloat16" if self.precision == "bfloat16" else "float32"
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            built = registry.build(self.name, part)
        finally:
            keras.config.set_dtype_policy(previous)
        if model is not None:
            if model.count_params() != built.count_params():
                raise ValueError(f"the given {part} is not a {self.name} {part}")
            built.set_weights(model.get_weights())
        matched = set()
        for layer in built.layers:
            if any(fnmatch.fnmatchcase(layer.name, pattern) for pattern in self.freeze):
                layer.trainable = False
                matched.add(layer.name)
        self.frozen = getattr(self, "frozen", set()) | matched
        return built

    def _rates(self, files_seen: float) -> tuple[float, float]:
        g_lr, d_lr = self.recipe.learning_rates(files_seen)
        if self.learning_rate is not None:
            scale = self.learning_rate / self.recipe.generator_lr
            g_lr, d_lr = g_lr * scale, d_lr * scale
        return g_lr, d_lr

    def _collect_state(self) -> dict[str, list]:
        return {
            "g_trainable": [v.value for v in self.generator.trainable_variables],
            "g_other": [v.value for v in self.generator.non_trainable_variables],
            "d_trainable": [v.value for v in self.discriminator.trainable_variables],
            "d_other": [v.value for v in self.discriminator.non_trainable_variables],
            "g_optimizer": [v.value for v in self.g_optimizer.variables],
            "d_optimizer": [v.value for v in self.d_optimizer.variables],
        }

    # the step functions ----------------------------------------------------------------

    def _build_steps(self):
        if keras.backend.backend() == "jax":
            self._steps = tuple(_compile(step) for step in self._stateless_steps())
        elif keras.backend.backend() == "tensorflow":
            self._steps = tuple(_compile(step) for step in self._stateful_steps())
        else:
            raise NotImplementedError("training runs on the tensorflow and jax backends, not "
                                      f"{keras.backend.backend()}")

    def _stateless_steps(self):
        """JAX: pure functions of the explicit state (weights, slots, dropout seeds)."""
        generator, discriminator = self.generator, self.discriminator
        g_optimizer, d_optimizer = self.g_optimizer, self.d_optimizer
        weights = dict(self.recipe.loss_weights)

        def discriminator_loss(d_trainable, d_other, images, targets):
            heads, d_other = discriminator.stateless_call(d_trainable, d_other, images,
                                                          training=True)
            total, parts = losses.weighted_loss(heads, targets, weights)
            return total, (d_other, parts)

        d_grad = _value_and_grad(discriminator_loss)

        def d_update(state, images, targets):
            (total, (d_other, parts)), grads = d_grad(state["d_trainable"], state["d_other"],
                                                      images, targets)
            d_trainable, d_optimizer_vars = d_optimizer.stateless_apply(
                state["d_optimizer"], grads, state["d_trainable"])
            return {**state, "d_trainable": d_trainable, "d_other": d_other,
                    "d_optimizer": d_optimizer_vars}, total, parts

        def d_fake(state, network_input, targets):
            fakes, _ = generator.stateless_call(state["g_trainable"], state["g_other"],
                                                network_input, training=False)
            return d_update(state, fakes, targets)

        def generator_loss(g_trainable, g_other, d_trainable, d_other, network_input, targets):
            fakes, g_other = generator.stateless_call(g_trainable, g_other, network_input,
                                                      training=True)
            heads, _ = discriminator.stateless_call(d_trainable, d_other, fakes,
                                                    training=False)
            total, parts = losses.weighted_loss(heads, targets, weights)
            return total, (g_other, parts)

        g_grad = _value_and_grad(generator_loss)

        def g_step(state, network_input, targets):
            (total, (g_other, parts)), grads = g_grad(
                state["g_trainable"], state["g_other"], state["d_trainable"], state["d_other"],
                network_input, targets)
            g_trainable, g_optimizer_vars = g_optimizer.stateless_apply(
                state["g_optimizer"], grads, state["g_trainable"])
            return {**state, "g_trainable": g_trainable, "g_other": g_other,
                    "g_optimizer": g_optimizer_vars}, total, parts

        return d_update, d_fake, g_step

    def _stateful_steps(self):
        """TensorFlow: the same losses, updating the Keras variables in place (Keras has no
        stateless optimiser on TensorFlow); ``state`` passes through untouched."""
        import tensorflow as tf

        generator, discriminator = self.generator, self.discriminator
        g_optimizer, d_optimizer = self.g_optimizer, self.d_optimizer
        weights = dict(self.recipe.loss_weights)

        def d_update(state, images, targets):
            with tf.GradientTape() as tape:
                heads = discriminator(images, training=True)
                total, parts = losses.weighted_loss(heads, targets, weights)
            variables = discriminator.trainable_variables
            d_optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            return state, total, parts

        def d_fake(state, network_input, targets):
            return d_update(state, generator(network_input, training=False), targets)

        def g_step(state, network_input, targets):
            with tf.GradientTape() as tape:
                heads = discriminator(generator(network_input, training=True), training=False)
                total, parts = losses.weighted_loss(heads, targets, weights)
            variables = generator.trainable_variables
            g_optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            return state, total, parts

        return d_update, d_fake, g_step

    @property
    def _stateless(self) -> bool:
        return keras.backend.backend() == "jax"

    def _set_learning_rates(self, state, g_lr: float, d_lr: float):
        if not self._stateless:
            self.g_optimizer.learning_rate.assign(g_lr)
            self.d_optimizer.learning_rate.assign(d_lr)
            return state
        state = dict(state)
        for key, value in (("g_optimizer", g_lr), ("d_optimizer", d_lr)):
            values = list(state[key])
            index = self._lr_index[key]
            values[index] = keras.ops.convert_to_tensor(value, values[index].dtype)
            state[key] = values
        return state

    def _current_state(self) -> dict[str, list]:
        return self.state if self._stateless else self._collect_state()

    # host-side batches -----------------------------------------------------------------

    def _labels(self, rng, value: float) -> np.ndarray:
        labels = np.full(self.batch_size, value, np.float32)
        flips = rng.random(self.batch_size) < self.recipe.label_flip
        labels[flips] = 1.0 - labels[flips] if value in (0.0, 1.0) else \
            np.where(value > 0.5, self.recipe.fake_label, self.recipe.real_label)
        return labels

    def _fake_batch(self, rng, epoch: int):
        conditioning = self.entry.conditioning
        y = rng.uniform(*self.recipe.energy_range(epoch), self.batch_size).astype(np.float32)
        noise = rng.standard_normal((self.batch_size, conditioning.latent_size),
                                    dtype=np.float32)
        targets = {"auxiliary": y, "ecal": self.energy_fit(y).astype(np.float32)}
        if conditioning.mode == "scale":
            network_input = noise * y[:, None]
        else:
            low, high = conditioning.angle_range
            theta = np.radians(rng.uniform(low, high, self.batch_size)).astype(np.float32)
            network_input = np.concatenate([y[:, None], theta[:, None], noise], axis=1)
            targets["angle_rad"] = theta
        return network_input, targets

    def _real_batch(self, showers, rng):
        images, sums = preprocess(showers, self.recipe)
        keep = np.arange(len(images))
        if self.recipe.min_total is not None:
            kept = np.nonzero(sums > self.recipe.min_total)[0]
            if len(kept) == 0:
                return None
            keep = kept[np.arange(len(images)) % len(kept)]   # refill to the batch shape
        targets = {"auxiliary": (showers.energies[keep] / 100.0).astype(np.float32),
                   "ecal": sums[keep].astype(np.float32)}
        if showers.angles is not None:
            targets["angle_rad"] = np.radians(showers.angles[keep]).astype(np.float32)
        return images[keep], targets

    # running ---------------------------------------------------------------------------

    def _fit_energy(self, data: TrainingData) -> losses.EnergyFit:
        y, sums = [], []
        for batch in data.epoch(0):
            _, batch_sums = preprocess(batch, self.recipe)
            y.append(batch.energies / 100.0)
            sums.append(batch_sums)
            if sum(len(part) for part in y) >= 2000:
                break
        return losses.EnergyFit.fit(np.concatenate(y), np.concatenate(sums))

    def _set_relu(self, epoch: int) -> None:
        switch = self.recipe.relu_switch_epoch
        if switch is None:
            return
        layer = self.generator.get_layer("final_relu")
        enabled = epoch >= switch
        if layer.enabled != enabled:
            layer.enabled = enabled
            self._steps = None

    def train(self, data: TrainingData, epochs: int, *, progress: bool = True,
              max_minutes: float | None = None) -> Path:
        """Train until ``epochs`` epochs are complete (continuing from ``self.epoch``).

        ``max_minutes`` stops earlier, at the last epoch end that the wall-clock budget (counted
        from this call) allows: the next epoch and its checkpoint are assumed to take as long as
        the fastest so far (at least one epoch runs; the weights written at the end come on
        top). The run can be resumed.
        """
        started = time.monotonic()
        if data.shape != self.entry.shape:
            raise ValueError(f"data of shape {data.shape} for {self.name} "
                             f"({self.entry.shape})")
        if max_minutes is not None and max_minutes < 0:
            raise ValueError(f"max_minutes must not be negative, got {max_minutes}")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.energy_fit is None:
            self.energy_fit = self._fit_energy(data)
        self._write_run_json(data)
        deadline = None if max_minutes is None else started + 60.0 * max_minutes
        fastest = float("inf")
        while self.epoch < epochs:
            epoch_start = time.monotonic()
            self._train_epoch(data, progress)
            self.save_checkpoint()
            # the first epoch of a process also compiles, so later ones are the better guide
            fastest = min(fastest, time.monotonic() - epoch_start)
            if deadline is not None and time.monotonic() + fastest > deadline:
                break
        self.sync_models()
        self.write_weights(data)
        return self.out_dir

    def _train_epoch(self, data: TrainingData, progress: bool) -> None:
        """One epoch of the recipe's per-batch order; appends its history row."""
        epoch = self.epoch
        batches = data.batches_per_epoch()
        stream = data.epoch(epoch)
        if progress:
            from tqdm import tqdm
            stream = tqdm(stream, total=batches, desc=f"{self.name} epoch {epoch + 1}",
                          unit=" batches")
        start = time.perf_counter()
        sums, count = self._run_batches(((epoch, step, showers)
                                         for step, showers in enumerate(stream)),
                                        batches, stream if progress else None)
        seconds = time.perf_counter() - start
        self.epoch = epoch + 1
        self._append_history({"epoch": self.epoch,
                              **{f"loss_{key}": value / count if count else float("nan")
                                 for key, value in sums.items()},
                              "seconds": round(seconds, 3),
                              "showers_per_s": round(count * self.batch_size / seconds, 1)})

    def train_steps(self, data: TrainingData, steps: int) -> dict[str, float]:
        """Train ``steps`` more batches, continuing where the last call stopped (mid-epoch if
        need be), with no checkpoint or history row: the step budget of a tuning trial.
        Returns the mean losses of these steps."""
        if data.shape != self.entry.shape:
            raise ValueError(f"data of shape {data.shape} for {self.name} "
                             f"({self.entry.shape})")
        if self.energy_fit is None:
            self.energy_fit = self._fit_energy(data)
        position = getattr(self, "_position", None)
        if position is None or position[0] is not data:
            position = self._position = (data, self._endless(data))
        stream = position[1]
        # the epoch of the batch being trained is known only once it is drawn
        sums, count = self._run_batches(
            (next(stream) for _ in range(steps)), data.batches_per_epoch(), None)
        return {key: value / count if count else float("nan") for key, value in sums.items()}

    def _endless(self, data: TrainingData):
        """(epoch, step, showers) from ``self.epoch`` on, epoch after epoch; ``self.epoch``
        counts an epoch as done as soon as its last batch is handed out."""
        while True:
            epoch = self.epoch
            batches = enumerate(data.epoch(epoch))
            current = next(batches, None)
            while current is not None:
                upcoming = next(batches, None)
                if upcoming is None:
                    self.epoch = epoch + 1
                yield epoch, *current
                current = upcoming

    def _run_batches(self, batches, per_epoch: int, bar) -> tuple[dict[str, float], int]:
        """The recipe's per-batch order over (epoch, step, showers); summed losses, count."""
        sums = {"d_real": 0.0, "d_fake": 0.0, "generator": 0.0}
        # Losses are read a few steps late so that the host never waits for the device.
        pending: collections.deque = collections.deque()
        count = 0

        def read_oldest() -> None:
            for key, value in zip(sums, pending.popleft()):
                sums[key] += float(value)

        state = self.state if self._stateless else None
        if self._mesh is not None:
            state = self._mesh.replicate(state)
        place = self._mesh.split if self._mesh is not None else (lambda tree: tree)
        for epoch, step, showers in batches:
            self._set_relu(epoch)
            if self._steps is None:
                self._build_steps()
            d_real, d_fake, g_step = self._steps   # d_real is the plain d_update
            g_lr, d_lr = self._rates(self.recipe.files_per_epoch * (epoch + step / per_epoch))
            state = self._set_learning_rates(state, g_lr, d_lr)
            rng = np.random.default_rng([self.seed, epoch, step])
            real = self._real_batch(showers, rng)
            if real is None:
                continue
            images, targets = real
            targets["generation"] = self._labels(rng, self.recipe.real_label)
            state, d_real_loss, _ = d_real(state, *place((images, targets)))
            network_input, targets = self._fake_batch(rng, epoch)
            targets["generation"] = self._labels(rng, self.recipe.fake_label)
            state, d_fake_loss, _ = d_fake(state, *place((network_input, targets)))
            for _ in range(self.recipe.generator_steps):
                network_input, targets = self._fake_batch(rng, epoch)
                targets["generation"] = np.full(self.batch_size, self.recipe.generator_label,
                                                np.float32)
                state, g_loss, _ = g_step(state, *place((network_input, targets)))
            pending.append((d_real_loss, d_fake_loss, g_loss))
            count += 1
            if len(pending) > LOSS_READ_LAG:
                read_oldest()
            if bar is not None and count % 10 == 0:
                last = count - len(pending)
                bar.set_postfix(d=f"{(sums['d_real'] + sums['d_fake']) / max(last, 1):.3g}",
                                g=f"{sums['generator'] / max(last, 1):.3g}")
        while pending:
            read_oldest()
        if self._stateless:
            self.state = state
        return sums, count

    def write_weights(self, data: TrainingData):
        """The run's generator and discriminator as weights + record in ``out_dir/weights``."""
        from calozoo.weights import write_weights

        ranges = {"energy_range": list(data.energy_range),
                  "angle_range": list(data.angle_range) if data.with_angles else None}
        return write_weights(
            self.out_dir / "weights", self.name, generator=self.generator,
            discriminator=self.discriminator, trained_ranges=ranges,
            training_data={"detector": data.detector if data.simulate else None,
                           "simulator": "calozoo.sim (GFlash)" if data.simulate else None,
                           "files": [str(path) for path in data.paths],
                           "showers_per_epoch": data.batches_per_epoch() * self.batch_size},
            recipe={"epochs": self.epoch, "batch_size": self.batch_size,
                    "precision": self.precision, "backend": keras.backend.backend(),
                    "seed": self.seed, "energy_fit": list(self.energy_fit.coefficients),
                    "learning_rate": self.learning_rate, "freeze": list(self.freeze),
                    "changed_from_published": self.recipe.changes_from(
                        recipe_of(self.name))})

    # state on disk ---------------------------------------------------------------------

    def _write_run_json(self, data: TrainingData) -> None:
        run = {"model": self.name, "seed": self.seed, "precision": self.precision,
               "batch_size": self.batch_size, "backend": keras.backend.backend(),
               "learning_rate": self.learning_rate, "freeze": list(self.freeze),
               "recipe": self.recipe.to_dict(),
               "energy_fit": list(self.energy_fit.coefficients),
               "data": {"paths": [str(p) for p in data.paths], "simulate": data.simulate,
                        "detector": data.detector if data.simulate else None,
                        "showers_per_epoch": data.batches_per_epoch() * self.batch_size}}
        (self.out_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n")

    def _append_history(self, row: dict) -> None:
        path = self.out_dir / "history.csv"
        new = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def save_checkpoint(self) -> Path:
        """``checkpoints/epoch-NNNN/``: generator, discriminator and each optimiser's state in
        its own ``.npz`` (so no file is much larger than its network), and ``state.json``."""
        folder = self.out_dir / "checkpoints" / f"epoch-{self.epoch:04d}"
        if not writes_files():                 # multi-host: process 0 writes, once
            return folder
        staging = folder.with_name(folder.name + ".part")
        if staging.exists():                   # left by a run killed while saving
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        state = self._current_state()
        for part, keys in CHECKPOINT_PARTS.items():
            arrays = {f"{key}/{index}": _host_array(value)
                      for key in keys for index, value in enumerate(state[key])}
            np.savez(staging / f"{part}.npz", **arrays)
        meta = {"model": self.name, "epoch": self.epoch, "seed": self.seed,
                "energy_fit": list(self.energy_fit.coefficients),
                "final_relu": self._relu_state()}
        (staging / "state.json").write_text(json.dumps(meta, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        if self.keep_checkpoints is not None:
            older = [path for path in _checkpoints(self.out_dir)
                     if _epoch_of(path) < self.epoch]
            for old in older[:max(0, len(older) - (self.keep_checkpoints - 1))]:
                shutil.rmtree(old)
        return folder

    def _relu_state(self):
        try:
            return self.generator.get_layer("final_relu").enabled
        except ValueError:
            return None

    def restore(self, checkpoint: str | os.PathLike) -> None:
        """Load a checkpoint folder (``checkpoints/epoch-NNNN``) into this trainer."""
        folder = Path(checkpoint)
        meta = read_json(folder / "state.json", "checkpoint state")
        if meta["model"] != self.name:
            raise ValueError(f"{folder}: a checkpoint of {meta['model']}, not of {self.name}")
        state = self._collect_state()
        parts = [folder / f"{part}.npz" for part in CHECKPOINT_PARTS]
        missing = [path.name for path in parts if not path.is_file()]
        if missing:
            raise ValueError(f"{folder}: incomplete checkpoint, {', '.join(missing)} missing")
        loaded = set()
        for path in parts:
            try:
                with np.load(path, allow_pickle=False) as arrays:
                    for name in arrays.files:
                        key, index = name.split("/")
                        current = state[key]
                        current[int(index)] = keras.ops.convert_to_tensor(
                            arrays[name], current[int(index)].dtype)
                        loaded.add((key, int(index)))
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
                raise ValueError(f"{path}: damaged checkpoint file ({type(error).__name__}: "
                                 f"{error}); remove {folder} to resume from the checkpoint "
                                 "before it") from None
        expected = {(key, index) for key, values in state.items()
                    for index in range(len(values))}
        if loaded != expected:
            raise ValueError(f"{folder}: the checkpoint does not match this {self.name} trainer "
                             f"({len(expected - loaded)} state arrays missing, "
                             f"{len(loaded - expected)} unknown)")
        self.state = state
        self.epoch = int(meta["epoch"])
        self.energy_fit = losses.EnergyFit(tuple(meta["energy_fit"]))
        if meta.get("final_relu") is not None:
            self.generator.get_layer("final_relu").enabled = meta["final_relu"]
        self._steps = None
        self.sync_models()
        self._trim_history()

    def _trim_history(self) -> None:
        """Drop history rows of epochs after the restored one (a run killed between writing
        its history row and its checkpoint)."""
        path = self.out_dir / "history.csv"
        if not path.is_file():
            return
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        kept = [row for row in rows if int(row["epoch"]) <= self.epoch]
        if len(kept) == len(rows):
            return
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)

    def sync_models(self) -> None:
        """Copy the explicit state back into the Keras models (and their optimisers)."""
        if not self._stateless and self.state is None:
            return
        pairs = ((self.generator.trainable_variables, "g_trainable"),
                 (self.generator.non_trainable_variables, "g_other"),
                 (self.discriminator.trainable_variables, "d_trainable"),
                 (self.discriminator.non_trainable_variables, "d_other"),
                 (self.g_optimizer.variables, "g_optimizer"),
                 (self.d_optimizer.variables, "d_optimizer"))
        for variables, key in pairs:
            for variable, value in zip(variables, self.state[key]):
                variable.assign(value)


def _epoch_of(checkpoint: Path) -> int:
    return int(checkpoint.name.removeprefix("epoch-"))


def _checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """A run directory's complete checkpoints, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted((path for path in folder.glob("epoch-*") if path.name[6:].isdigit()
                   and (path / "state.json").is_file()), key=_epoch_of)


def last_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run directory."""
    done = _checkpoints(run_dir)
    return done[-1] if done else None


def read_json(path: Path, what: str) -> dict:
    """A JSON object from ``path``, or one clear error naming the file."""
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: damaged {what} ({error})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: damaged {what} (not a JSON object)")
    return values


def check_run_dir(run_dir: str | os.PathLike, name: str) -> None:
    """Refuse a run directory of another model."""
    run = Path(run_dir) / "run.json"
    if run.is_file():
        model = read_json(run, "run record").get("model")
        if model != name:
            raise ValueError(f"{run_dir} is a run of {model}, not of {name}")
