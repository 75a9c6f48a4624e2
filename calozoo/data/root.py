"""ROOT TTrees (as Geant4 applications write them) → calozoo's HDF5, through uproot.

Requires the ``hep`` extra (``pip install calozoo[hep]``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from calozoo.data.io import ShowerWriter
from calozoo.data.showers import Showers, parse_geometry

BRANCH_ROLES = ("ecal", "energy", "angle")
ENERGY_UNITS = {"GeV": 1.0, "MeV": 1e-3}
ANGLE_UNITS = ("rad", "deg")


def parse_branch_map(text: str) -> dict[str, str]:
    """``"ecal=ECAL,energy=Ep,angle=theta"`` → ``{"ecal": "ECAL", ...}``."""
    mapping = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        role, _, branch = item.partition("=")
        if not branch:
            raise ValueError(f"branch map entries look like role=branch, got {item!r}")
        mapping[role.strip()] = branch.strip()
    return mapping


def _uproot():
    try:
        import uproot
    except ImportError:
        raise ImportError("reading ROOT files needs uproot: pip install 'calozoo[hep]'") from None
    return uproot


def iterate_root(path: str | os.PathLike, tree: str, branch_map: Mapping[str, str], *,
                 geometry: str | None = None, energy_unit: str = "GeV",
                 angle_unit: str = "rad", cell_scale: float = 1.0,
                 batch_size: int = 1000) -> Iterator[Showers]:
    """Stream showers out of a ROOT TTree.

    Parameters
    ----------
    branch_map
        Which branch holds what: ``ecal`` (cells, fixed-size array; flat arrays need
        ``geometry``), ``energy`` (primary energy) and optionally ``angle`` (polar angle).
    geometry
        ``"25x25x25"``-style grid of flat ECAL branches.
    energy_unit
        ``"GeV"`` or ``"MeV"``, applied to the primary energy and the cells.
    angle_unit
        ``"rad"`` or ``"deg"``.
    cell_scale
        Stored cell values per unit of ``energy_unit`` (divided out).
    """
    unknown = set(branch_map) - set(BRANCH_ROLES)
    missing = {"ecal", "energy"} - set(branch_map)
    if unknown or missing:
        raise ValueError(f"branch map needs ecal and energy (angle optional); "
                         f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    if energy_unit not in ENERGY_UNITS:
        raise ValueError(f"energy_unit must be one of {list(ENERGY_UNITS)}, got {energy_unit!r}")
    if angle_unit not in ANGLE_UNITS:
        raise ValueError(f"angle_unit must be one of {ANGLE_UNITS}, got {angle_unit!r}")
    uproot = _uproot()
    grid = parse_geometry(geometry) if geometry else None
    to_gev = ENERGY_UNITS[energy_unit]
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        handle = uproot.open(path)
    except Exception as error:  # uproot raises several kinds for non-ROOT input
        raise OSError(f"{path}: not a readable ROOT file ({error})") from None
    with handle:
        if tree not in handle:
            raise ValueError(f"{path}: no tree {tree!r}; found {sorted(handle.keys())}")
        ttree = handle[tree]
        absent = [branch for branch in branch_map.values() if branch not in ttree.keys()]
        if absent:
            raise ValueError(f"{path}: tree {tree!r} has no branches {absent}; found "
                             f"{sorted(ttree.keys())}")
        for arrays in ttree.iterate(list(branch_map.values()), step_size=batch_size,
                                    library="np"):
            raw = np.asarray(arrays[branch_map["ecal"]])
            if raw.dtype == object:
                raise ValueError(f"{path}: branch {branch_map['ecal']!r} is variable-length; "
                                 "calozoo needs fixed-size cell arrays")
            if not np.issubdtype(raw.dtype, np.number):
                raise ValueError(f"{path}: branch {branch_map['ecal']!r} holds {raw.dtype} "
                                 "values, not numbers")
            cells = raw.astype(np.float32)
            if grid is not None:
                cells_per_shower = int(np.prod(cells.shape[1:]))
                if cells_per_shower != int(np.prod(grid)):
                    raise ValueError(f"{path}: branch {branch_map['ecal']!r} has "
                                     f"{cells_per_shower} cells per shower, the geometry "
                                     f"{'x'.join(map(str, grid))} needs {int(np.prod(grid))}")
                cells = cells.reshape(len(cells), *grid)
            if cells.ndim != 4:
                raise ValueError(f"{path}: ECAL branch has shape {cells.shape[1:]}; give "
                                 "geometry='XxYxZ' for flat branches")
            cells *= np.float32(to_gev / cell_scale)
            energies = np.asarray(arrays[branch_map["energy"]], dtype=np.float64)
            energies = energies.reshape(len(energies), -1)[:, 0] * to_gev
            angles = None
            if "angle" in branch_map:
                angles = np.asarray(arrays[branch_map["angle"]], dtype=np.float64)
                angles = angles.reshape(len(angles), -1)[:, 0]
                angles = np.degrees(angles) if angle_unit == "rad" else angles
            try:
                yield Showers(cells, energies, angles)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None


def convert_root(source: str | os.PathLike, target: str | os.PathLike, tree: str,
                 branch_map: Mapping[str, str], *, progress: bool = False,
                 overwrite: bool = False, **options) -> int:
    """Convert a ROOT TTree into calozoo's 3DGAN HDF5 layout; returns the shower count.

    An existing ``target`` is refused (before reading anything) unless ``overwrite``.
    """
    from calozoo import _files

    _files.check_output(target, overwrite=overwrite)
    batches = iterate_root(source, tree, branch_map, **options)
    first = next(batches, None)
    if first is None:
        raise ValueError(f"{source}: tree {tree!r} is empty")
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(unit=" showers", desc="convert")
    with ShowerWriter(target, first.shape, with_angles=first.angles is not None,
                      overwrite=overwrite) as writer:
        for batch in itertools.chain([first], batches):
            writer.write(batch)
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return writer.count
