"""Base classes of the zoo's networks (functional models built in ``__init__``, keras-hub style)."""

from __future__ import annotations

import os
from typing import Any

import keras
import numpy as np

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

    # Generation -------------------------------------------------------------------------

    trained_ranges: dict | None = None
    """Energy (GeV) and angle (degrees) ranges of the loaded weights, when known."""

    def generate(self, energies, angles=None, *, seed: int | None = None,
                 batch_size: int | None = None, progress: bool = False,
                 precision: str = "float32", strict: bool = False,
                 output_dtype: str = "float32", output: str = "numpy",
                 sparse_capacity: int | None = None):
        """Generate showers.

        Parameters
        ----------
        energies
            Primary energies in GeV (scalar or array).
        angles
            Polar angles in degrees (90 = perpendicular; a scalar broadcasts). Required by
            angle-conditioned models, refused by energy-only ones.
        seed
            Shower i's noise depends only on (seed, i); None draws a fresh seed.
        batch_size
            Showers per compiled forward pass; None picks one for the device (≤ 64 on CPU,
            1024 on GPU, never more than N rounded up to 8).
        progress
            Show a tqdm progress bar.
        precision
            ``"float32"`` or ``"bfloat16"`` (mixed precision: float32 weights, bfloat16
            compute). bfloat16 is the fast path on GPUs, and on CPUs with bfloat16
            instructions (avx512_bf16, AMX): 1.8× float32 for conv3d and 2.2× for g1-3branch
            on a 2-core AMD EPYC (benchmarks/RESULTS.md), with response and shower-shape
            observables equal to float32's within their statistical errors. On CPUs without
            them it is slower than float32.
        strict
            Raise instead of warning when energies or angles leave the trained range.
        output_dtype
            ``"float32"`` or ``"float16"`` cells (float16 halves the device→host copy).
        output
            ``"numpy"``; ``"device"`` (the backend's array, left on the accelerator); or
            ``"sparse"`` (a :class:`calozoo.data.SparseShowers` of the largest
            ``sparse_capacity`` cells per shower, selected on the device: the fastest way off
            a GPU, with ``output_dtype="float16"``).
        sparse_capacity
            Cells kept per shower with ``output="sparse"`` (default 2048 on 25³ grids, 4096
            on larger ones); a warning says if any shower had more non-zero cells.

        Returns
        -------
        numpy.ndarray
            ``(N, X, Y, Z)`` cell energies in GeV, ≥ 0 (cells below the threshold are 0).
        """
        from calozoo import generation

        energies, angles = generation.check_conditions(
            self.conditioning, energies, angles, strict=strict, trained=self.trained_ranges)
        noise = generation.NoiseStream(seed, self.latent_size)
        return self._collect(noise.rows, energies, angles, batch_size, progress, precision,
                             output_dtype, output, sparse_capacity)

    def decode(self, noise, energies, angles=None, *, batch_size: int | None = None,
               precision: str = "float32") -> np.ndarray:
        """The deterministic map from given noise ``(N, latent_size)`` to showers in GeV.

        ``energies`` in GeV, ``angles`` in degrees; this is what ``generate()`` runs per batch.
        """
        from calozoo import generation

        energies, angles = generation.check_conditions(
            self.conditioning, energies, angles, strict=False, trained=self.trained_ranges)
        noise = generation.check_noise(noise, self.latent_size, len(energies))
        return self._collect(lambda start, stop: noise[start:stop], energies, angles,
                             batch_size, False, precision, "float32", "numpy")

    def generate_to_file(self, path: str | os.PathLike, energies, angles=None, *,
                         seed: int | None = None, batch_size: int | None = None,
                         progress: bool = False, precision: str = "float32",
                         strict: bool = False, sparse: bool = False,
                         sparse_capacity: int | None = None, overwrite: bool = False,
                         shard: tuple[int, int] | None = None, format: str = "3dgan",
                         output_dtype: str = "float32") -> int:
        """Stream generated showers into an HDF5 file (calozoo's 3DGAN layout).

        Batches go to disk as they come, so N need not fit in memory; the file appears under
        its name only when complete. With ``sparse=True`` the file holds the non-zero cells
        (float16 values, flat indices) as they leave the device; ``calozoo.data.load`` reads
        both forms. An existing file is refused (before any work) unless ``overwrite``.
        ``format="calochallenge"`` writes CaloChallenge's layout (MeV) instead of 3DGAN's;
        ``output_dtype="float16"`` stores dense cells in half precision (3DGAN layout).

        ``shard=(K, S)`` writes only shard K (from 0) of S: the rows [K·N // S, (K+1)·N // S)
        of the N showers that ``energies`` and ``angles`` describe, exactly as the unsharded
        call writes them (shower i depends only on the seed and i), with the run's identity
        (model, weights fingerprint, seed, N, rows) in the file's attributes;
        :func:`calozoo.shards.merge` joins the shards. Needs a seed. Other arguments as for
        :meth:`generate`. Returns the number of showers written.
        """
        from calozoo import generation
        from calozoo.data import Showers, ShowerWriter, SparseShowers

        from calozoo import shards

        energies, angles = generation.check_conditions(
            self.conditioning, energies, angles, strict=strict, trained=self.trained_ranges)
        noise = generation.NoiseStream(seed, self.latent_size)
        total, first, attrs = len(energies), 0, None
        if shard is not None:
            if seed is None:
                raise ValueError("sharded generation needs a seed: every shard must draw the "
                                 "same showers")
            first, last = shards.shard_range(total, shard)
            energies = energies[first:last]
            angles = None if angles is None else angles[first:last]
            attrs = {"calozoo_model": self.name,
                     "weights_sha256": shards.weights_fingerprint(self), "seed": int(seed),
                     "total": total, "format": format, "shard": int(shard[0]),
                     "shards": int(shard[1]), "start": first, "stop": last}
        capacity = self._sparse_capacity(sparse_capacity) if sparse else None

        def rows(start: int, stop: int) -> np.ndarray:
            return noise.rows(first + start, first + stop)

        with ShowerWriter(path, self.shape, with_angles=angles is not None, format=format,
                          expected=len(energies), sparse_capacity=capacity, attrs=attrs,
                          overwrite=overwrite, dtype=output_dtype) as writer:
            if not len(energies):
                return 0
            for start, stop, showers in self._batches(
                    rows, energies, angles, batch_size, progress, precision,
                    "float16" if sparse else output_dtype, False, capacity):
                conditions = (energies[start:stop],
                              None if angles is None else angles[start:stop])
                if sparse:
                    writer.write_sparse(SparseShowers(self.shape, *showers), *conditions)
                else:
                    writer.write(Showers(showers, *conditions))
        return len(energies)

    def _sparse_capacity(self, requested: int | None) -> int:
        cells = int(np.prod(self.shape))
        capacity = requested or (2048 if cells <= 16384 else 4096)
        if not 0 < capacity <= cells:
            raise ValueError(f"sparse_capacity must be in 1..{cells}, got {capacity}")
        return capacity

    def _batches(self, noise_rows, energies, angles, batch_size, progress, precision,
                 output_dtype, on_device, sparse_capacity=None):
        from calozoo import generation

        count = len(energies)
        batch_size = generation.default_batch_size(count) if batch_size is None else batch_size
        decoder = generation.decoder_for(
            self, self.conditioning, precision, output_dtype, sparse_capacity,
            pinned_output=not on_device and generation.use_pinned_output())
        batches = generation.decode_batches(decoder, self.conditioning, count, noise_rows,
                                            energies, angles, batch_size, on_device=on_device)
        if not progress:
            yield from batches
            return
        from tqdm import tqdm

        with tqdm(total=count, unit=" showers", desc="generate") as bar:
            for item in batches:
                bar.update(item[1] - item[0])
                yield item

    def _collect(self, noise_rows, energies, angles, batch_size, progress, precision,
                 output_dtype, output, sparse_capacity=None):
        if output not in ("numpy", "device", "sparse"):
            raise ValueError(f"output must be 'numpy', 'device' or 'sparse', got {output!r}")
        capacity = self._sparse_capacity(sparse_capacity) if output == "sparse" else None
        batches = self._batches(noise_rows, energies, angles, batch_size, progress, precision,
                                output_dtype, output == "device", capacity)
        if output == "sparse":
            import warnings

            from calozoo.data import SparseShowers

            result = SparseShowers.concatenate(
                [SparseShowers(self.shape, *parts) for _, _, parts in batches])
            if result.truncated.any():
                warnings.warn(f"{int(result.truncated.sum())} showers have more than "
                              f"{capacity} non-zero cells; their smallest cells were dropped "
                              "(raise sparse_capacity)", stacklevel=3)
            return result
        if output == "device":
            parts = [showers for _, _, showers in batches]
            return parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=0)
        result = np.empty((len(energies), *self.shape), dtype=output_dtype)
        for start, stop, showers in batches:
            result[start:stop] = showers
        return result


def discriminator_heads(features, image, *, power: float = 1.0, angle: bool = False) -> dict:
    """The named heads every zoo discriminator returns, on its features and input image."""
    from keras import layers

    from calozoo.models.layers import MeasuredAngle, VoxelSum

    heads = {
        "generation": layers.Dense(1, activation="sigmoid", name="generation")(features),
        "auxiliary": layers.Dense(1, name="auxiliary")(features),
        "ecal": VoxelSum(power=power, name="ecal")(image),
    }
    if angle:
        heads["angle_rad"] = MeasuredAngle(power=power, name="angle_rad")(image)
    return heads


@keras.saving.register_keras_serializable(package=PACKAGE)
class ShowerDiscriminator(_ConfigurableModel):
    """A discriminator of the zoo: a shower image in, named heads out.

    Heads: ``generation`` (real/fake probability), ``auxiliary`` (primary energy / 100),
    ``ecal`` (voxel sum in GeV) and, for angle models, ``angle_rad`` (measured polar angle).
    """
