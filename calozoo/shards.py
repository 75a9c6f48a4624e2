"""Sharded mass generation: shard K of N showers in its own file, and the merge of the shards.

Shower i depends only on (seed, i): its noise row (:class:`calozoo.generation.NoiseStream`)
and, on the command line, its energy and angle (:func:`primaries`). So shard K of a run holds
exactly the rows [K·N // S, (K+1)·N // S) that the unsharded run would write, and any batch
system's job array can produce them in parallel. :func:`merge` checks that the shards belong
together and copies them, in order and in chunks, into one file.

The merged file is a real copy, not an HDF5 virtual data set: it is self-contained (the shards
can be deleted or moved), keeps the shards' compression, and reads as fast as any other file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

BLOCK = 1024
"""Rows per random block of the primaries (as the noise's)."""
SHARD_ATTRS = ("shard", "shards", "start", "stop")
RUN_ATTRS = ("calozoo_model", "weights_sha256", "seed", "total", "layout", "geometry", "format")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/S"`` → (K, S), K counted from 0 (as SLURM's and HTCondor's task ids)."""
    try:
        index, count = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/S with integers, e.g. 0/4, got {text!r}") from None
    if not (count >= 1 and 0 <= index < count):
        raise ValueError(f"--shard {text}: K must be 0 … S−1 and S ≥ 1")
    return index, count


def shard_range(total: int, shard: tuple[int, int]) -> tuple[int, int]:
    """The rows [start, stop) of ``shard`` = (K, S) among ``total`` showers."""
    index, count = shard
    if not (isinstance(index, (int, np.integer)) and isinstance(count, (int, np.integer))
            and count >= 1 and 0 <= index < count):
        raise ValueError(f"shard must be (K, S) with 0 ≤ K < S, got {shard!r}")
    return index * total // count, (index + 1) * total // count


def primaries(seed: int, start: int, stop: int, energy_range: tuple[float, float],
              angle_range: tuple[float, float] | None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Energies (GeV) and angles (degrees) of rows [start, stop), uniform in the ranges; row
    i depends only on (seed, i)."""
    energies, angles = [], []
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1 if stop > start else 0):
        rng = np.random.default_rng([seed, 1, block])
        uniform = rng.random((BLOCK, 2))
        low, high = max(start, block * BLOCK) - block * BLOCK, min(stop, (block + 1) * BLOCK) \
            - block * BLOCK
        energies.append(_scale(uniform[low:high, 0], energy_range))
        if angle_range is not None:
            angles.append(_scale(uniform[low:high, 1], angle_range))
    energy = np.concatenate(energies) if energies else np.zeros(0)
    angle = (np.concatenate(angles) if angles else np.zeros(0)) if angle_range else None
    return energy, angle


def _scale(uniform: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    low, high = bounds
    return np.full(len(uniform), low) if low == high else low + (high - low) * uniform


def weights_fingerprint(model) -> str:
    """sha256 of a model's weight values (whatever file they came from)."""
    import keras

    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def _read_attrs(path: Path) -> tuple[dict, dict]:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            attrs = {key: handle.attrs[key] for key in handle.attrs}
            datasets = {name: (handle[name].dtype, handle[name].shape)
                        for name in handle if isinstance(handle[name], h5py.Dataset)}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
    missing = [key for key in (*RUN_ATTRS, *SHARD_ATTRS) if key not in attrs]
    if missing:
        raise ValueError(f"{path}: not a calozoo shard (no {', '.join(missing)} attribute)")
    return attrs, datasets


def check_shards(paths: list[str | os.PathLike]) -> list[tuple[Path, dict, dict]]:
    """The shards ordered by their rows, after checking that they belong to one run (same
    model, weights, seed, N and layout), hold the rows they claim, and leave no gap and no
    overlap. Raises ValueError naming the first problem."""
    if not paths:
        raise ValueError("no shards to merge")
    shards = []
    for path in map(Path, paths):
        attrs, datasets = _read_attrs(path)
        rows = int(attrs["stop"]) - int(attrs["start"])
        for name, (_, shape) in datasets.items():
            if shape[0] != rows:
                raise ValueError(f"{path}: {name} holds {shape[0]} rows, the shard claims "
                                 f"{rows} (rows {attrs['start']}–{attrs['stop']}): incomplete")
        shards.append((path, attrs, datasets))
    first_path, first, first_sets = shards[0]
    for path, attrs, datasets in shards[1:]:
        for key in RUN_ATTRS:
            if str(attrs[key]) != str(first[key]):
                raise ValueError(f"{path} and {first_path} are not shards of one run: {key} "
                                 f"{attrs[key]!r} vs {first[key]!r}")
        if {n: (d, s[1:]) for n, (d, s) in datasets.items()} != \
                {n: (d, s[1:]) for n, (d, s) in first_sets.items()}:
            raise ValueError(f"{path} and {first_path} hold different data sets")
    shards.sort(key=lambda shard: int(shard[1]["start"]))
    position = 0
    for path, attrs, _ in shards:
        start, stop = int(attrs["start"]), int(attrs["stop"])
        if start > position:
            raise ValueError(f"rows {position}–{start} are missing: no shard holds them "
                             f"(next: {path})")
        if start < position:
            raise ValueError(f"{path} overlaps the shard before it (rows {start}–{position})")
        position = stop
    total = int(first["total"])
    if position != total:
        raise ValueError(f"rows {position}–{total} are missing: no shard holds them")
    return shards


def merge(output: str | os.PathLike, inputs: list[str | os.PathLike], *,
          overwrite: bool = False, chunk_rows: int = 4096) -> Path:
    """Merge the shards of one sharded run into ``output`` (streamed in chunks of rows; the
    file appears under its name only when complete). Returns the written path."""
    import h5py

    from calozoo import _files

    target = _files.check_output(output, overwrite=overwrite)
    shards = check_shards(inputs)
    total = int(shards[0][1]["total"])
    temporary = _files.temporary_file(target)
    try:
        with h5py.File(temporary, "w") as merged:
            with h5py.File(shards[0][0], "r") as first:
                for key, value in first.attrs.items():
                    if key not in SHARD_ATTRS:
                        merged.attrs[key] = value
                for name in first:
                    source = first[name]
                    merged.create_dataset(
                        name, shape=(total, *source.shape[1:]),
                        maxshape=(None, *source.shape[1:]), dtype=source.dtype,
                        chunks=source.chunks, compression=source.compression,
                        compression_opts=source.compression_opts, shuffle=source.shuffle)
            for path, attrs, _ in shards:
                offset = int(attrs["start"])
                with h5py.File(path, "r") as shard:
                    for name in shard:
                        source, destination = shard[name], merged[name]
                        for row in range(0, source.shape[0], chunk_rows):
                            block = source[row:row + chunk_rows]
                            destination[offset + row:offset + row + len(block)] = block
        _files.publish(temporary, target, overwrite=overwrite)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target
