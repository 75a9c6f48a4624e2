"""The machinery behind ``ShowerGenerator.generate()``: seeded noise, conditioning, a forward
pass compiled once per batch shape, inverse preprocessing on the device, and a pipeline that
prepares the next batch while the device works on this one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import warnings
import weakref
from collections.abc import Iterator

import keras
import numpy as np

from calozoo.conditioning import Conditioning
from calozoo.data.showers import check_angles, check_energies, check_whole
from calozoo.models.layers import cells_in_gev
from calozoo.models.subpixel import folded_call

NOISE_BLOCK = 1024
"""Noise is drawn in blocks of this many showers; block k of seed s comes from (s, k)."""
PRECISIONS = ("float32", "bfloat16")
OUTPUT_DTYPES = ("float32", "float16")
CPU_BATCH, GPU_BATCH = 64, 1024
PIPELINE_DEPTH = 2
"""Batches launched ahead of the one being copied to the host."""


class OutOfRangeWarning(UserWarning):
    """Energies or angles outside the range a generator was trained on."""


class NoiseStream:
    """Standard-normal noise rows where row i depends only on (seed, i)."""

    def __init__(self, seed: int | None, width: int):
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else \
            check_whole(seed, "seed", 0)
        self.width = width
        self._cached: tuple[int, np.ndarray] | None = None

    def _block(self, index: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != index:
            rng = np.random.default_rng([self.seed, index])
            self._cached = (index, rng.standard_normal((NOISE_BLOCK, self.width),
                                                       dtype=np.float32))
        return self._cached[1]

    def rows(self, start: int, stop: int) -> np.ndarray:
        parts = []
        position = start
        while position < stop:
            block, offset = divmod(position, NOISE_BLOCK)
            take = min(stop - position, NOISE_BLOCK - offset)
            parts.append(self._block(block)[offset:offset + take])
            position += take
        return np.concatenate(parts) if len(parts) > 1 else parts[0].copy()


def network_input(conditioning: Conditioning, noise: np.ndarray, energies: np.ndarray,
                  angles: np.ndarray | None) -> np.ndarray:
    """The generator's input for noise (N, latent), energies in GeV and angles in degrees."""
    scaled = (energies / conditioning.energy_scale).astype(np.float32)[:, None]
    if conditioning.mode == "scale":
        return noise * scaled
    columns = [scaled]
    if "angle" in conditioning.conditions:
        columns.append(np.radians(angles).astype(np.float32)[:, None])
    return np.concatenate([*columns, noise], axis=1)


def check_conditions(conditioning: Conditioning, energies, angles, *, strict: bool,
                     trained: dict | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Validated energies (GeV) and angles (degrees), warning (or raising) when out of range."""
    energies = check_energies(energies)
    wants_angles = "angle" in conditioning.conditions
    if wants_angles and angles is None:
        raise ValueError("this model is conditioned on the angle: pass angles in degrees "
                         "(90 = perpendicular)")
    if not wants_angles and angles is not None:
        raise ValueError("this model is conditioned on the energy only; it takes no angles")
    if angles is not None:
        angles = check_angles(angles, len(energies))
    trained = trained or {}
    ranges = [("energies", energies, trained.get("energy_range", conditioning.energy_range),
               "GeV")]
    if angles is not None:
        ranges.append(("angles", angles, trained.get("angle_range", conditioning.angle_range),
                       "degrees"))
    for what, values, bounds, unit in ranges:
        if bounds is None:
            continue
        low, high = bounds
        outside = (values < low) | (values > high)
        if np.any(outside):
            message = (f"{int(outside.sum())} {what} lie outside the trained range "
                       f"{low:g}–{high:g} {unit} (min {values.min():g}, max {values.max():g})")
            if strict:
                raise ValueError(message)
            warnings.warn(message, OutOfRangeWarning, stacklevel=4)
    return energies, angles


def on_accelerator() -> bool:
    """Whether the Keras backend computes on a GPU/TPU."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax
            return jax.default_backend() != "cpu"
        if backend == "tensorflow":
            import tensorflow as tf
            return bool(tf.config.list_logical_devices("GPU"))
        if backend == "torch":
            import torch
            return torch.cuda.is_available()
    except Exception:  # a broken accelerator stack means the CPU
        return False
    return False


def tf_uses_xla() -> bool:
    """Whether TensorFlow compiles generation with XLA: on GPUs yes, on CPUs no.

    Measured (benchmarks/cpu.py, RESULTS.md): on CPUs TensorFlow's graph kernels (oneDNN) beat
    XLA's for every zoo model, conv3d by an order of magnitude. ``CALOZOO_XLA=1`` (or ``0``)
    overrides the choice.
    """
    forced = _forced("CALOZOO_XLA")
    return on_accelerator() if forced is None else forced


def _forced(variable: str) -> bool | None:
    value = os.environ.get(variable, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    return None


def uses_folded_network() -> bool:
    """Whether generation runs the 3D generators' up-sampling + convolution pairs folded into
    one smaller convolution per output phase (:mod:`calozoo.models.subpixel`).

    On CPUs yes: the same function (to float32 rounding), 4.8× faster for conv3d and 1.9× for
    3dgan-angle on TensorFlow (benchmarks/cpu.py, RESULTS.md). On accelerators not measured
    yet, so no.
    ``CALOZOO_FOLD=1`` (or ``0``) overrides the choice.
    """
    forced = _forced("CALOZOO_FOLD")
    return (not on_accelerator()) if forced is None else forced


def default_batch_size(count: int) -> int:
    limit = GPU_BATCH if on_accelerator() else CPU_BATCH
    return max(1, min(limit, -(-count // 8) * 8))


def _with_policy(model: keras.Model, policy: str) -> keras.Model:
    """A copy of ``model`` built under another dtype policy, with the same weights."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        clone = model.__class__.from_config(model.get_config())
    finally:
        keras.config.set_dtype_policy(previous)
    clone.set_weights(model.get_weights())
    return clone


class CompiledDecoder:
    """Network + inverse preprocessing, compiled for the backend (XLA on TF, jit on JAX).

    Calling it with a (batch, input) float32 array returns the showers in GeV as a backend
    array on the device: (batch, X, Y, Z), cells below the threshold set to 0. With
    ``pinned_output`` (JAX) the result is written to page-locked host memory instead, so the
    copy off the device is a DMA inside the compiled program rather than a later copy through
    pageable memory.
    """

    def __init__(self, model: keras.Model, conditioning: Conditioning, precision: str,
                 output_dtype: str, sparse_capacity: int | None = None,
                 pinned_output: bool = False):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if output_dtype not in OUTPUT_DTYPES:
            raise ValueError(f"output_dtype must be one of {OUTPUT_DTYPES}, got "
                             f"{output_dtype!r}")
        network = model if precision == "float32" else _with_policy(model, "mixed_bfloat16")
        self.network = network
        ops = keras.ops
        folded = folded_call(network) if uses_folded_network() else None
        self.folded = folded is not None

        def run_network(values, inputs):
            if folded is not None:
                return folded(values, inputs)
            with keras.StatelessScope(state_mapping=list(zip(network.weights, values))):
                return network(inputs, training=False)

        def to_gev(raw):
            cells = cells_in_gev(raw, conditioning.power, conditioning.cell_scale,
                                 conditioning.threshold)
            if sparse_capacity is None:
                return ops.cast(cells, output_dtype)
            # the grid's size from the model: the folded graph's static shape may be unknown
            cell_count = int(np.prod(model.shape))
            flat = ops.reshape(cells, (-1, cell_count))
            values, indices = ops.top_k(flat, sparse_capacity, sorted=True)
            index_dtype = "uint16" if cell_count <= 65536 else "int32"
            nonzero = ops.sum(ops.cast(flat > 0, "int32"), axis=1)
            return ops.cast(indices, index_dtype), ops.cast(values, output_dtype), nonzero

        # The weights are read from ``model`` at every call (never captured at build time), so
        # a decoder stays right after load_weights, set_weights, training or freezing; the
        # bfloat16 copy of the network only lends its graph. ``weights`` keeps its order
        # whatever the trainable flags, and the copy's weights are in the same order.
        def weights():
            return [v.value for v in model.weights]

        def forward(values, inputs):
            return to_gev(run_network(values, inputs))

        backend = keras.backend.backend()
        if backend == "jax":
            import jax

            compiled = jax.jit(forward)
            sharding = pinned_host_sharding(model) if pinned_output else None
            if sharding is not None:
                compiled = _with_fallback(jax.jit(forward, out_shardings=sharding), compiled)
            # "float32" means float32: no TF32 convolutions on GPUs (batch-size invariance
            # and agreement with the CPU depend on it); bfloat16 is the fast path.
            matmul_precision = "highest" if precision == "float32" else "default"

            def call(inputs):
                with jax.default_matmul_precision(matmul_precision):
                    return compiled(weights(), inputs)

            self._call = call
        elif backend == "tensorflow":
            import tensorflow as tf

            compiled = tf.function(forward, jit_compile=tf_uses_xla(), reduce_retracing=True)
            self._call = lambda inputs: compiled(weights(), inputs)
        else:
            def eager(inputs):
                import torch
                with torch.no_grad():
                    return forward(weights(), inputs)
            self._call = eager

    def __call__(self, inputs: np.ndarray):
        return self._call(inputs)


_DECODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def decoder_for(model: keras.Model, conditioning: Conditioning, precision: str,
                output_dtype: str, sparse_capacity: int | None = None,
                pinned_output: bool = False) -> CompiledDecoder:
    """The model's compiled decoder for a precision and output form (built once)."""
    per_model = _DECODERS.setdefault(model, {})
    key = (precision, output_dtype, sparse_capacity, pinned_output)
    if key not in per_model:
        per_model[key] = CompiledDecoder(model, conditioning, precision, output_dtype,
                                         sparse_capacity, pinned_output)
    return per_model[key]


def pinned_host_sharding(model: keras.Model | None = None):
    """JAX: page-locked host memory of the device that holds ``model``'s weights (default:
    the default device) as an output placement; None where there is no such memory or the
    weights are spread over several devices."""
    if keras.backend.backend() != "jax":
        return None
    import jax
    from jax.sharding import SingleDeviceSharding

    device = jax.devices()[0]
    if model is not None and model.weights:
        devices = model.weights[0].value.devices()
        if len(devices) != 1:
            return None
        device = next(iter(devices))
    try:
        kinds = {memory.kind for memory in device.addressable_memories()}
    except Exception:  # a runtime without memory kinds
        return None
    return SingleDeviceSharding(device, memory_kind="pinned_host") \
        if "pinned_host" in kinds else None


def use_pinned_output() -> bool:
    """Whether host-bound results go through pinned memory: JAX on an accelerator that has it."""
    return on_accelerator() and pinned_host_sharding() is not None


def _with_fallback(pinned, plain):
    """``pinned`` (a jitted function), compiled ahead of time per argument signature; for a
    signature this runtime cannot compile it for, warn and use ``plain``. Errors while running
    are not caught."""
    import jax

    compiled: dict = {}

    def call(*args):
        signature = jax.tree_util.tree_structure(args), tuple(
            (leaf.shape, str(leaf.dtype)) for leaf in jax.tree_util.tree_leaves(args))
        if signature not in compiled:
            try:
                compiled[signature] = pinned.lower(*args).compile()
            except Exception as error:  # noqa: BLE001 - a compile failure means: don't pin
                warnings.warn(f"pinned host output unavailable ({type(error).__name__}: "
                              f"{error}); copying results through pageable memory",
                              RuntimeWarning, stacklevel=4)
                compiled[signature] = plain
        return compiled[signature](*args)

    return call


def to_host(array):
    """A backend array (or a tuple of them) as numpy."""
    return keras.tree.map_structure(lambda a: np.asarray(keras.ops.convert_to_numpy(a)), array)


def _start_copy(array) -> None:
    for leaf in keras.tree.flatten(array):
        if hasattr(leaf, "copy_to_host_async"):
            leaf.copy_to_host_async()   # JAX: the copy starts as soon as it is computed


def decode_batches(decoder: CompiledDecoder, conditioning: Conditioning, count: int,
                   noise_rows, energies: np.ndarray, angles: np.ndarray | None,
                   batch_size: int, *, on_device: bool = False
                   ) -> Iterator[tuple[int, int, object]]:
    """Yield (start, stop, showers) per batch; every batch runs at the fixed batch shape.

    The next batch's input is prepared on a worker thread, and the device works on batch k+1
    while batch k is copied to the host.
    """
    # A batch larger than the request would only allocate (and compute) padding.
    batch_size = min(check_whole(batch_size, "batch_size", 1), max(8, -(-count // 8) * 8))
    bounds = [(start, min(start + batch_size, count)) for start in range(0, count, batch_size)]

    def prepare(start: int, stop: int) -> np.ndarray:
        inputs = network_input(conditioning, noise_rows(start, stop), energies[start:stop],
                               None if angles is None else angles[start:stop])
        if stop - start < batch_size:
            padding = np.zeros((batch_size - (stop - start), inputs.shape[1]), np.float32)
            inputs = np.concatenate([inputs, padding])
        return inputs

    in_flight: collections.deque = collections.deque()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pending_input = pool.submit(prepare, *bounds[0]) if bounds else None
        for index, (start, stop) in enumerate(bounds):
            inputs = pending_input.result()
            if index + 1 < len(bounds):
                pending_input = pool.submit(prepare, *bounds[index + 1])
            showers = decoder(inputs)
            if not on_device:
                _start_copy(showers)
            in_flight.append((start, stop, showers))
            if len(in_flight) > PIPELINE_DEPTH:
                yield _finish(in_flight.popleft(), on_device)
        while in_flight:
            yield _finish(in_flight.popleft(), on_device)


def _finish(item, on_device: bool):
    start, stop, showers = item
    if not on_device:
        showers = to_host(showers)
    return start, stop, keras.tree.map_structure(lambda a: a[: stop - start], showers)


def check_noise(noise, latent_size: int, count: int) -> np.ndarray:
    noise = np.asarray(noise, dtype=np.float32)
    if noise.ndim != 2 or noise.shape[1] != latent_size:
        raise ValueError(f"noise must be (N, {latent_size}), got shape {noise.shape}")
    if len(noise) != count:
        raise ValueError(f"{len(noise)} noise rows for {count} energies")
    if not np.all(np.isfinite(noise)):
        raise ValueError("noise contains NaN or infinite values")
    return noise


