"""Reading and writing shower files: 3DGAN HDF5 and CaloChallenge HDF5.

``load`` returns the stored values unchanged (no threshold): cells in GeV, energies in GeV,
angles in degrees. Writers go through a temporary name and a rename, so an interrupted write
never leaves a half-written file behind.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from calozoo import _files
from calozoo.data.showers import Showers, geometry_name, parse_geometry
from calozoo.data.sparse import SparseShowers

MEV_PER_GEV = 1000.0
GRID_SHAPES = ((25, 25, 25), (51, 51, 25))
CALOCHALLENGE_VOXELS = (368, 533, 6480, 40500)
ANGLE_KEYS = ("mtheta", "theta", "eta")
FORMATS = ("3dgan", "calochallenge")


def _fail(path, problem: str) -> ValueError:
    return ValueError(f"{path}: {problem}")


def _open(path) -> h5py.File:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise OSError(f"{path}: not a readable HDF5 file ({error})") from None


class _Layout:
    """Where one file keeps its images, energies and angles, and how to read them."""

    def __init__(self, path, handle: h5py.File, cell_scale: float | None):
        self.path = path
        keys = sorted(handle.keys())
        attrs = handle.attrs
        self.indices = None
        if "ECAL" in handle or ("values" in handle and "indices" in handle
                                and attrs.get("layout") == "sparse-xyz"):
            self._init_3dgan(handle, keys, attrs, cell_scale)
        elif "showers" in handle and "incident_energies" in handle:
            self._init_calochallenge(handle, attrs)
        else:
            raise _fail(path, "no shower data set: expected 'ECAL' (3DGAN) or 'showers' and "
                              f"'incident_energies' (CaloChallenge); found keys {keys}")
        self.length = self.images.shape[0]
        for name, data in (("energies", self.energy), ("angles", self.angle)):
            if data is not None and data.shape[0] != self.length:
                raise _fail(path, f"inconsistent lengths: {self.length} showers but "
                                  f"{data.shape[0]} {name} ({data.name})")

    def _init_3dgan(self, handle, keys, attrs, cell_scale):
        self.format = "3dgan"
        if "ECAL" in handle:
            self.images = handle["ECAL"]
            if self.images.ndim != 4:
                raise _fail(self.path, f"'ECAL' must have rank 4 (N, X, Y, Z), got shape "
                                       f"{self.images.shape}")
            self.grid = tuple(self.images.shape[1:])
        else:
            self.images, self.indices = handle["values"], handle["indices"]
            self.grid = parse_geometry(str(attrs.get("geometry", "")))
        if "energy" in handle:
            self.energy, self.energy_column = handle["energy"], None
            if not (self.energy.ndim == 1 or self.energy.shape[1:] == (1,)):
                raise _fail(self.path, f"'energy' must be (N,) or (N, 1), got shape "
                                       f"{self.energy.shape}")
        elif "target" in handle:
            self.energy, self.energy_column = handle["target"], 1
            if self.energy.shape[1:] not in ((1, 5), (5,)):
                raise _fail(self.path, f"'target' must be (N, 1, 5) or (N, 5), got shape "
                                       f"{self.energy.shape}")
        else:
            raise _fail(self.path, f"no primary energy: expected 'energy' or 'target'; found "
                                   f"keys {keys}")
        self.angle_key = next((key for key in ANGLE_KEYS if key in handle), None)
        self.angle = handle[self.angle_key] if self.angle_key else None
        if "cell_scale" in attrs:
            self.cell_scale = float(attrs["cell_scale"])
        else:
            self.cell_scale = 1.0 if cell_scale is None else float(cell_scale)
        self.energy_scale = 1.0

    def _init_calochallenge(self, handle, attrs):
        self.format = "calochallenge"
        self.images = handle["showers"]
        self.energy, self.energy_column = handle["incident_energies"], None
        self.angle_key, self.angle = None, None
        if self.images.ndim != 2:
            raise _fail(self.path, f"'showers' must be (N, voxels), got shape "
                                   f"{self.images.shape}")
        self.grid = None
        if "geometry" in attrs:
            self.grid = parse_geometry(str(attrs["geometry"]))
            if math.prod(self.grid) != self.images.shape[1]:
                raise _fail(self.path, f"geometry {attrs['geometry']} does not hold "
                                       f"{self.images.shape[1]} voxels")
        self.cell_scale = MEV_PER_GEV
        self.energy_scale = MEV_PER_GEV

    def read(self, start: int, stop: int) -> Showers:
        try:
            images = np.asarray(self.images[start:stop], dtype=np.float32)
            if self.indices is not None:
                images = SparseShowers(self.grid, np.asarray(self.indices[start:stop]), images,
                                       np.zeros(len(images), np.int64)).to_dense()
            energies = np.asarray(self.energy[start:stop], dtype=np.float64)
            angles = None if self.angle is None else np.asarray(self.angle[start:stop],
                                                                dtype=np.float64)
        except (OSError, RuntimeError) as error:
            raise OSError(f"{self.path}: cannot read rows {start}:{stop}, the file is "
                          f"truncated or corrupt ({error})") from None
        if self.energy_column is not None:
            energies = energies.reshape(len(energies), -1)[:, self.energy_column]
        energies = energies.reshape(len(energies), -1)[:, 0] / self.energy_scale
        if self.cell_scale != 1.0:
            images /= np.float32(self.cell_scale)
        if self.grid is not None and images.ndim == 2:
            images = images.reshape(len(images), *self.grid)
        if angles is not None:
            angles = angles.reshape(len(angles), -1)[:, 0]
            angles = _to_degrees(angles, self.angle_key)
        if not np.all(np.isfinite(energies)) or np.any(energies <= 0):
            bad = int(np.sum(~np.isfinite(energies) | (energies <= 0)))
            raise _fail(self.path, f"{bad} primary energies are NaN, infinite or ≤ 0 in rows "
                                   f"{start}:{stop}")
        try:
            return Showers(images, energies, angles)
        except ValueError as error:
            raise _fail(self.path, str(error)) from None


def _to_degrees(values: np.ndarray, key: str) -> np.ndarray:
    if key == "eta":
        return np.degrees(2.0 * np.arctan(np.exp(-values)))
    return np.degrees(values)


def _bounds(length: int, start: int, stop: int | None) -> tuple[int, int]:
    stop = length if stop is None else min(stop, length)
    if start < 0 or start > stop:
        raise ValueError(f"invalid row range {start}:{stop} for {length} showers")
    return start, stop


def load(path: str | os.PathLike, *, start: int = 0, stop: int | None = None,
         cell_scale: float | None = None) -> Showers:
    """Read showers from a 3DGAN or CaloChallenge HDF5 file.

    Parameters
    ----------
    path
        The file. 3DGAN layout: ``ECAL`` (N, X, Y, Z), primary energy in ``energy`` or
        ``target[..., 1]`` (GeV), angle in ``mtheta``/``theta`` (radians) or ``eta``.
        CaloChallenge layout: ``incident_energies`` and ``showers`` in MeV.
    start, stop
        Row range to read (only those rows are read from disk).
    cell_scale
        Stored cell values per GeV for 3DGAN files that carry no calozoo attributes
        (``cell_scale=50`` for the real angle data); ignored when the file says.

    Returns
    -------
    Showers
        Cells and energies in GeV, angles in degrees, exactly as stored otherwise.
    """
    with _open(path) as handle:
        layout = _Layout(path, handle, cell_scale)
        start, stop = _bounds(layout.length, start, stop)
        return layout.read(start, stop)


def count(path: str | os.PathLike) -> int:
    """Number of showers in a file, without reading them."""
    with _open(path) as handle:
        return _Layout(path, handle, None).length


def iterate(path: str | os.PathLike, batch_size: int, *, cell_scale: float | None = None
            ) -> Iterator[Showers]:
    """Stream a file in batches of ``batch_size`` showers (never reads the whole file)."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    with _open(path) as handle:
        layout = _Layout(path, handle, cell_scale)
        for start in range(0, layout.length, batch_size):
            yield layout.read(start, min(start + batch_size, layout.length))


class ShowerWriter:
    """Append batches of showers to an HDF5 file, made visible under its name only on success.

    Use as a context manager; on an exception the temporary file is removed.

    Parameters
    ----------
    path
        Final file name.
    shape
        One shower's grid (X, Y, Z).
    with_angles
        Whether an angle is stored per shower.
    format
        ``"3dgan"`` (``ECAL`` and ``energy`` in GeV, ``theta`` in radians) or
        ``"calochallenge"`` (``showers`` and ``incident_energies`` in MeV).
    expected
        Number of showers, if known (sizes the data sets up front).
    sparse_capacity
        Store showers sparsely (3DGAN layout only): ``indices`` and ``values`` (float16) of
        up to this many non-zero cells per shower instead of ``ECAL``; written with
        :meth:`write_sparse`.
    overwrite
        Replace an existing file (refused otherwise, before anything is written). The file
        appears under its name only when complete, and never replaces a file another process
        created meanwhile unless ``overwrite``.
    dtype
        Storage type of dense cells: ``"float32"`` or ``"float16"`` (3DGAN layout, GeV: half
        the size; CaloChallenge's MeV cells exceed float16's range).
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int, int], *,
                 with_angles: bool = False, format: str = "3dgan", expected: int | None = None,
                 attrs: dict | None = None, sparse_capacity: int | None = None,
                 overwrite: bool = False, dtype: str = "float32"):
        if format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
        if dtype == "float16" and format != "3dgan":
            raise ValueError("float16 cells need the 3DGAN layout (GeV): CaloChallenge's MeV "
                             "cells exceed float16's range")
        self.dtype = dtype
        if sparse_capacity and format != "3dgan":
            raise ValueError("sparse storage exists in the 3DGAN layout only")
        self.path = _files.check_output(path, overwrite=overwrite)
        self.overwrite = overwrite
        self.shape = tuple(int(size) for size in shape)
        self.with_angles = with_angles
        self.format = format
        self.count = 0
        self._temporary = _files.temporary_file(self.path)
        try:
            self._file = h5py.File(self._temporary, "w")
        except BaseException:
            self._temporary.unlink(missing_ok=True)
            raise
        try:
            self._create_datasets(expected, sparse_capacity, attrs)
        except BaseException:
            self.abort()
            raise

    def _create_datasets(self, expected: int | None, sparse_capacity: int | None,
                         attrs: dict | None) -> None:
        format = self.format
        initial = expected or 0
        chunk_rows = max(1, min(64, expected or 64))
        if format == "3dgan" and sparse_capacity:
            cells = math.prod(self.shape)
            index_dtype = "uint16" if cells <= 65536 else "uint32"
            row_chunks = max(1, min(1024, expected or 1024))
            self._images = self._file.create_dataset(
                "values", shape=(initial, sparse_capacity), maxshape=(None, sparse_capacity),
                dtype="float16", chunks=(row_chunks, sparse_capacity), compression="gzip",
                compression_opts=1)
            self._indices = self._file.create_dataset(
                "indices", shape=(initial, sparse_capacity), maxshape=(None, sparse_capacity),
                dtype=index_dtype, chunks=(row_chunks, sparse_capacity), compression="gzip",
                compression_opts=1)
        if format == "3dgan":
            if not sparse_capacity:
                self._indices = None
                self._images = self._file.create_dataset(
                    "ECAL", shape=(initial, *self.shape), maxshape=(None, *self.shape),
                    dtype=self.dtype, chunks=(chunk_rows, *self.shape), compression="gzip",
                    compression_opts=4, shuffle=True)
            self._energies = self._file.create_dataset(
                "energy", shape=(initial,), maxshape=(None,), dtype="float64", chunks=(4096,))
            self._angles = self._file.create_dataset(
                "theta", shape=(initial,), maxshape=(None,), dtype="float64",
                chunks=(4096,)) if self.with_angles else None
            self._file.attrs["units"] = "ECAL: GeV; energy: GeV; theta: rad"
            self._file.attrs["cell_scale"] = 1.0
        else:
            if sparse_capacity:
                raise ValueError("sparse storage exists in the 3DGAN layout only")
            self._indices = None
            voxels = math.prod(self.shape)
            self._images = self._file.create_dataset(
                "showers", shape=(initial, voxels), maxshape=(None, voxels), dtype="float32",
                chunks=(chunk_rows, voxels), compression="gzip", compression_opts=4,
                shuffle=True)
            self._energies = self._file.create_dataset(
                "incident_energies", shape=(initial, 1), maxshape=(None, 1), dtype="float64",
                chunks=(4096, 1))
            self._angles = None
            self._file.attrs["units"] = "showers: MeV; incident_energies: MeV"
        self._file.attrs["geometry"] = geometry_name(self.shape)
        self._file.attrs["layout"] = "sparse-xyz" if sparse_capacity else "xyz"
        self._file.attrs["writer"] = "calozoo"
        for key, value in (attrs or {}).items():
            self._file.attrs[key] = value

    def write(self, showers: Showers) -> None:
        """Append a batch."""
        if showers.shape != self.shape:
            raise ValueError(f"showers of shape {showers.shape} do not fit a file of shape "
                             f"{self.shape}")
        if self._indices is not None:
            raise ValueError("this file stores sparse showers; use write_sparse()")
        if self.with_angles and showers.angles is None:
            raise ValueError("this file stores angles but the showers have none")
        start, stop = self._grow(len(showers))
        if self.format == "3dgan":
            self._images[start:stop] = showers.images
            self._energies[start:stop] = showers.energies
            if self._angles is not None:
                self._angles[start:stop] = np.radians(showers.angles)
        else:
            self._images[start:stop] = showers.images.reshape(len(showers), -1) * MEV_PER_GEV
            self._energies[start:stop, 0] = showers.energies * MEV_PER_GEV
        self.count = stop

    def _grow(self, rows: int) -> tuple[int, int]:
        start, stop = self.count, self.count + rows
        for data in (self._images, self._indices, self._energies, self._angles):
            if data is not None and data.shape[0] < stop:
                data.resize(stop, axis=0)
        return start, stop

    def write_sparse(self, showers, energies: np.ndarray, angles: np.ndarray | None = None):
        """Append a batch of :class:`SparseShowers` with their energies (GeV) and angles (°)."""
        if self._indices is None:
            raise ValueError("this file stores dense showers; use write()")
        if tuple(showers.shape) != self.shape:
            raise ValueError(f"showers of shape {showers.shape} do not fit a file of shape "
                             f"{self.shape}")
        start, stop = self._grow(len(showers))
        self._images[start:stop] = showers.values
        self._indices[start:stop] = showers.indices
        self._energies[start:stop] = energies
        if self._angles is not None:
            self._angles[start:stop] = np.radians(angles)
        self.count = stop

    def close(self) -> Path:
        """Finish the file and give it its final name."""
        for data in (self._images, self._indices, self._energies, self._angles):
            if data is not None and data.shape[0] != self.count:
                data.resize(self.count, axis=0)
        try:
            self._file.close()
        except BaseException:
            self._temporary.unlink(missing_ok=True)
            raise
        return _files.publish(self._temporary, self.path, overwrite=self.overwrite)

    def abort(self) -> None:
        """Drop the temporary file."""
        try:
            self._file.close()
        finally:
            self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> ShowerWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def save(path: str | os.PathLike, showers: Showers, format: str = "3dgan", *,
         overwrite: bool = False) -> Path:
    """Write showers to HDF5 (``"3dgan"`` or ``"calochallenge"`` layout), atomically.

    3DGAN: ``ECAL`` in GeV, ``energy`` in GeV, ``theta`` in radians, with attributes ``units``,
    ``cell_scale=1``, ``geometry`` and ``layout``. CaloChallenge: ``showers`` and
    ``incident_energies`` in MeV, with ``geometry`` and ``layout="xyz"`` so that calozoo reads
    the voxels back as (N, X, Y, Z). An existing file is replaced only with ``overwrite``.
    """
    if not showers.is_grid:
        raise ValueError("only showers on an (X, Y, Z) grid can be written")
    with ShowerWriter(path, showers.shape, with_angles=showers.angles is not None,
                      format=format, expected=len(showers), overwrite=overwrite) as writer:
        writer.write(showers)
    return Path(path)
