"""Pretrained weights: records (model cards), resolution, sha256 checks, huggingface-hub.

A weights *record* (``<model>/<tag>.json``) says what a weights file is: the files and their
sha256, the hub repository and revision (null until pushed), the conditioning the weights
expect, the training data, the recipe and the validation metrics. Records live in the shipped
``weights/`` folder (inside the wheel as ``calozoo/_weights``) and in ``$CALOZOO_WEIGHTS``.

Files resolve in this order: an explicit path; ``$CALOZOO_WEIGHTS``; the shipped folder; the
huggingface-hub cache at the recorded revision; a download at the recorded revision (never
with ``HF_HUB_OFFLINE=1`` or ``CALOZOO_OFFLINE=1``). Every file is sha256-checked and its
architecture compared with the model's before Keras reads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from calozoo import _files
from calozoo._version import __version__

DEFAULT_TAG = "default"
SCHEMA = 1
LICENSE = "Apache-2.0"
ARCHITECTURE_ATTR = "calozoo_model"
PART_ATTR = "calozoo_part"


def shipped_weights_dir() -> Path:
    """The folder of weights shipped with calozoo (in the wheel, or the source checkout)."""
    package = Path(__file__).resolve().parent
    inside = package / "_weights"
    return inside if inside.is_dir() else package.parent / "weights"


def _search_dirs() -> list[Path]:
    folders = []
    if os.environ.get("CALOZOO_WEIGHTS"):
        folders.append(Path(os.environ["CALOZOO_WEIGHTS"]))
    folders.append(shipped_weights_dir())
    return folders


def offline() -> bool:
    """Whether network access is forbidden (HF_HUB_OFFLINE or CALOZOO_OFFLINE set to 1)."""
    truthy = {"1", "true", "yes", "on"}
    return any(os.environ.get(key, "").strip().lower() in truthy
               for key in ("HF_HUB_OFFLINE", "CALOZOO_OFFLINE"))


@dataclasses.dataclass(frozen=True)
class WeightsRecord:
    """A weights record: what the files are and where they come from."""

    model: str
    tag: str
    files: dict[str, dict[str, Any]]
    hub: dict[str, str | None]
    conditioning: dict[str, Any]
    trained_ranges: dict[str, Any]
    training_data: dict[str, Any]
    recipe: dict[str, Any]
    metrics: dict[str, Any]
    license: str
    citation: list[str]
    date: str
    calozoo_version: str
    source: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Where imported weights come from (repository, commit, path, sha256 of the originals)."""
    notes: list[str] = dataclasses.field(default_factory=list)
    """What the weights do well and badly, in plain words."""
    folder: Path | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def read(cls, path: Path) -> WeightsRecord:
        try:
            values = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: unreadable weights record ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a weights record is a JSON object")
        if values.get("schema") != SCHEMA:
            raise ValueError(f"{path}: weights record schema {values.get('schema')!r}, "
                             f"this calozoo reads {SCHEMA}")
        fields = {field.name for field in dataclasses.fields(cls)} - {"folder"}
        optional = {"source", "notes"}
        missing = fields - optional - set(values)
        if missing:
            raise ValueError(f"{path}: weights record lacks {sorted(missing)}")
        return cls(**{key: values[key] for key in fields if key in values}, folder=path.parent)

    def to_json(self) -> str:
        values = {"schema": SCHEMA, **dataclasses.asdict(self)}
        values.pop("folder")
        return json.dumps(values, indent=2, sort_keys=False) + "\n"


def records(name: str) -> dict[str, WeightsRecord]:
    """The weights records of model ``name`` by tag ($CALOZOO_WEIGHTS first, then shipped)."""
    found: dict[str, WeightsRecord] = {}
    for folder in _search_dirs():
        model_folder = folder / name
        if not model_folder.is_dir():
            continue
        for path in sorted(model_folder.glob("*.json")):
            try:
                record = WeightsRecord.read(path)
                if record.model != name:
                    raise ValueError(f"{path}: record of {record.model!r} in the folder of "
                                     f"{name!r}")
            except (ValueError, TypeError) as error:
                warnings.warn(f"skipping a broken weights record: {error}", RuntimeWarning,
                              stacklevel=2)
                continue
            found.setdefault(record.tag, record)
    return found


def available_tags(name: str) -> tuple[str, ...]:
    """Weights tags available for model ``name``, the default first."""
    return tuple(sorted(records(name), key=lambda tag: (tag != DEFAULT_TAG, tag)))


def record(name: str, tag: str = DEFAULT_TAG) -> WeightsRecord:
    """The record of ``name``'s weights ``tag`` ("default" = the default or only tag)."""
    known = records(name)
    if not known:
        raise FileNotFoundError(
            f"no pretrained weights for {name!r} yet; load(..., weights=None) gives a "
            "randomly initialised model")
    if tag == DEFAULT_TAG and DEFAULT_TAG not in known:
        tag = available_tags(name)[0]
    if tag not in known:
        raise FileNotFoundError(f"{name!r} has no weights tag {tag!r} "
                                f"(tags: {', '.join(available_tags(name))})")
    return known[tag]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hub_file(record: WeightsRecord, filename: str, allow_download: bool) -> Path | None:
    repo, revision = record.hub.get("repo_id"), record.hub.get("revision")
    if not repo or not revision:
        return None
    import huggingface_hub

    cached = huggingface_hub.try_to_load_from_cache(repo, filename, revision=revision)
    if isinstance(cached, str):
        return Path(cached)
    if not allow_download or offline():
        return None
    return Path(huggingface_hub.hf_hub_download(repo, filename, revision=revision))


def resolve_file(record: WeightsRecord, part: str, *, allow_download: bool = True) -> Path:
    """The local, sha256-verified file of ``part`` that ``record`` names."""
    if part not in record.files:
        raise FileNotFoundError(f"weights {record.model}/{record.tag} have no {part} file "
                                f"(parts: {', '.join(record.files)})")
    entry = record.files[part]
    filename = entry["name"]
    if not isinstance(filename, str) or Path(filename).name != filename or \
            filename in ("", ".", ".."):
        raise ValueError(f"weights record {record.model}/{record.tag}: file name {filename!r} "
                         "must be a plain name inside the record's folder")
    candidates = [folder / record.model / filename for folder in _search_dirs()]
    if record.folder is not None:
        candidates.insert(0, record.folder / filename)
    candidates = list(dict.fromkeys(candidates))
    searched = [str(candidate.parent) for candidate in candidates]
    own_mismatch, others = None, []
    # The first file of that name whose sha256 matches: a folder searched later may hold a
    # file of the same name from other weights (a user's own default beside the shipped one).
    for candidate in candidates:
        if candidate.is_file():
            try:
                verify(candidate, entry["sha256"])
                return candidate
            except ValueError as error:
                if record.folder is not None and candidate.parent == record.folder:
                    own_mismatch = own_mismatch or error
                else:
                    others.append(str(candidate))
    path = _hub_file(record, filename, allow_download)
    repo, revision = record.hub.get("repo_id"), record.hub.get("revision")
    searched.append(f"huggingface-hub cache ({repo}@{revision})" if repo else
                    "no hub repository recorded")
    if path is None and own_mismatch is not None:
        raise own_mismatch
    if path is None:
        if repo and offline():
            hint = (f"offline (HF_HUB_OFFLINE/CALOZOO_OFFLINE): run `calozoo download "
                    f"{record.model}` where there is network, or set CALOZOO_WEIGHTS")
        elif repo:
            hint = "not downloaded: run `calozoo download " + record.model + "`"
        else:
            hint = "place it in $CALOZOO_WEIGHTS/" + record.model
        if others:
            hint += f" ({', '.join(others)}: same name, other content)"
        raise FileNotFoundError(f"weights file {filename} of {record.model}/{record.tag} not "
                                f"found; looked in {'; '.join(dict.fromkeys(searched))}. {hint}")
    verify(path, entry["sha256"])
    return path


def verify(path: Path, expected: str) -> None:
    """Refuse a file whose sha256 differs from the record's."""
    actual = sha256(path)
    if actual != expected:
        raise ValueError(f"{path}: sha256 mismatch: the record expects {expected}, the file "
                         f"has {actual}; refusing to load it")


def _stored_shapes(path: Path) -> tuple[dict, list[tuple[int, ...]]]:
    shapes = []
    try:
        with h5py.File(path, "r") as handle:
            attrs = dict(handle.attrs)
            handle.visititems(lambda _, item: shapes.append(tuple(item.shape))
                              if isinstance(item, h5py.Dataset) else None)
    except OSError as error:
        raise OSError(f"{path}: not a readable Keras weights file ({error})") from None
    return attrs, sorted(shapes)


def check_architecture(path: Path, model, name: str, part: str) -> None:
    """Refuse weights written for another architecture, before Keras reads them."""
    attrs, stored = _stored_shapes(path)
    written_for = attrs.get(ARCHITECTURE_ATTR)
    if written_for is not None:
        written_for = written_for.decode() if isinstance(written_for, bytes) else written_for
        written_part = attrs.get(PART_ATTR, part)
        written_part = written_part.decode() if isinstance(written_part, bytes) else \
            written_part
        if (written_for, written_part) != (name, part):
            raise ValueError(f"{path}: weights of {written_for} ({written_part}), not of "
                             f"{name} ({part})")
    expected = sorted(tuple(weight.shape) for weight in model.weights)
    if stored != expected:
        raise ValueError(f"{path}: these weights do not fit the {name} {part} "
                         f"({len(stored)} arrays, {sum(int(np.prod(s)) for s in stored):,} "
                         f"values; the model has {len(expected)} arrays, "
                         f"{model.count_params():,} values)")


def resolve(name: str, weights: str | os.PathLike, part: str = "generator"
            ) -> tuple[Path, WeightsRecord | None]:
    """The verified file that ``weights`` (a tag, "default" or a path) names, and its record."""
    candidate = Path(weights)
    if candidate.is_file() and candidate.suffix == ".json":
        found_record = WeightsRecord.read(candidate)
        if found_record.model != name:
            raise ValueError(f"{candidate}: a weights record of {found_record.model!r}, not of "
                             f"{name!r}")
        return resolve_file(found_record, part, allow_download=False), found_record
    if candidate.is_file():
        return candidate, None
    if candidate.is_dir():
        plain = (f"{name}.weights.h5",) if part == "generator" else ()
        for filename in (f"{name}.{part}.weights.h5", *plain):
            if (candidate / filename).is_file():
                return candidate / filename, None
        for found in candidate.glob(f"{name}/*.json"):
            found_record = WeightsRecord.read(found)
            if found_record.tag == DEFAULT_TAG or len(list(found.parent.glob("*.json"))) == 1:
                return resolve_file(found_record, part, allow_download=False), found_record
        raise FileNotFoundError(f"{weights}: no {name}.{part}.weights.h5"
                                f"{', ' + plain[0] if plain else ''} or {name}/<tag>.json in "
                                "this folder")
    tag = str(weights)
    if isinstance(weights, os.PathLike) or os.sep in tag or tag.endswith((".h5", ".keras")):
        raise FileNotFoundError(f"weights file {tag} does not exist")
    found_record = record(name, tag)
    return resolve_file(found_record, part), found_record


def download(name: str, tag: str | None = None) -> list[Path]:
    """Fetch (into the huggingface-hub cache) and verify every file of ``name``'s weights."""
    tags = [tag] if tag else list(available_tags(name))
    if not tags:
        raise FileNotFoundError(f"no pretrained weights for {name!r} yet")
    if offline():
        raise OSError("calozoo download needs the network, but HF_HUB_OFFLINE or "
                      "CALOZOO_OFFLINE is set")
    paths = []
    for each in tags:
        found = record(name, each)
        paths += [resolve_file(found, part) for part in found.files]
    return paths


def write_weights(out_dir: str | os.PathLike, name: str, *, generator, discriminator=None,
                  tag: str = DEFAULT_TAG, training_data: Mapping[str, Any],
                  recipe: Mapping[str, Any], metrics: Mapping[str, Any] | None = None,
                  trained_ranges: Mapping[str, Any] | None = None,
                  hub: Mapping[str, str | None] | None = None,
                  source: Mapping[str, Any] | None = None, notes: list[str] | None = None,
                  license: str = LICENSE, citation: list[str] | None = None,
                  overwrite: bool = True) -> WeightsRecord:
    """Write weights and their record into ``out_dir/<name>/``.

    Every file is written under a temporary name first; the files and then the record
    (``out_dir/<name>/<tag>.json``) take their names only when all of them are complete, so a
    failure leaves nothing behind. With ``overwrite=False`` an existing record or file of the
    same tag is refused. Returns the record.
    """
    from calozoo import registry

    if not tag or not all(char.isalnum() or char in "-_." for char in tag) or \
            tag.startswith("."):
        raise ValueError(f"weights tag must be letters, digits, '-', '_' or '.', got {tag!r}")
    entry = registry.entry(name)
    folder = Path(out_dir) / name
    parts = [(part, model) for part, model in (("generator", generator),
                                               ("discriminator", discriminator))
             if model is not None]
    targets = [folder / f"{tag}.json"] + [folder / f"{name}-{tag}.{part}.weights.h5"
                                          for part, _ in parts]
    existing = [str(path) for path in targets if os.path.lexists(path)]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; choose another tag or out folder, or "
                              "pass overwrite=True (--overwrite)")
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    published: list[Path] = []
    staging = _files.temporary_folder(folder / f"{tag}.json")
    try:
        for part, model in parts:
            filename = f"{name}-{tag}.{part}.weights.h5"
            staged = staging / filename
            model.save_weights(staged)
            with h5py.File(staged, "a") as handle:
                handle.attrs[ARCHITECTURE_ATTR] = name
                handle.attrs[PART_ATTR] = part
            files[part] = {"name": filename, "sha256": sha256(staged),
                           "size": staged.stat().st_size}
        conditioning = dict(entry.conditioning.to_dict())
        conditioning["units"] = {"energy": "GeV", "angle": "degrees (network input: radians)",
                                 "cells": "GeV after the inverse transform"}
        ranges = dict(trained_ranges or {"energy_range": list(entry.conditioning.energy_range),
                                         "angle_range": entry.conditioning.angle_range})
        found = WeightsRecord(
            model=name, tag=tag, files=files,
            hub=dict(hub or {"repo_id": None, "revision": None}),
            conditioning=conditioning, trained_ranges=ranges,
            training_data=dict(training_data), recipe=dict(recipe), metrics=dict(metrics or {}),
            license=license,
            citation=list(citation or [entry.reference, "calozoo (see CITATION.cff)"]),
            date=datetime.date.today().isoformat(), calozoo_version=__version__,
            source=dict(source or {}), notes=list(notes or []), folder=folder)
        (staging / f"{tag}.json").write_text(found.to_json())
        # the weights first, the record last: a record always names complete files
        for filename in [entry["name"] for entry in files.values()] + [f"{tag}.json"]:
            _files.publish(staging / filename, folder / filename, overwrite=overwrite)
            published.append(folder / filename)
    except BaseException:
        if not overwrite:           # new files of an incomplete import: ours to remove
            for path in published:
                path.unlink(missing_ok=True)
        for parent in made:
            with contextlib.suppress(OSError):
                parent.rmdir()      # only if still empty
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return found


def push(name: str, repo_id: str, tag: str = DEFAULT_TAG, *, api=None) -> str:
    """Upload ``name``'s weights files and record to the hub; returns the commit revision.

    The revision printed must then be recorded in the record's ``hub`` (maintainers only).
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    found = record(name, tag)
    api = api or HfApi()
    api.create_repo(repo_id, exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=entry["name"],
                                      path_or_fileobj=str(resolve_file(found, part,
                                                                       allow_download=False)))
                  for part, entry in found.files.items()]
    operations.append(CommitOperationAdd(path_in_repo=f"{name}/{tag}.json",
                                         path_or_fileobj=found.to_json().encode()))
    commit = api.create_commit(repo_id, operations=operations,
                               commit_message=f"calozoo {__version__}: {name} weights {tag}")
    return commit.oid


def _default_import_folder() -> Path:
    return Path(os.environ.get("CALOZOO_WEIGHTS") or "calozoo-weights")


def _fits_elsewhere(values: int, name: str, part: str) -> str:
    """' (… the size of g1-3branch's generator)' when a legacy file matches another network."""
    from calozoo import registry

    matches = []
    for other in registry.list_models():
        other_entry = registry.entry(other)
        for other_part, count in (("generator", other_entry.generator_params),
                                  ("discriminator", other_entry.discriminator_params)):
            if count == values and (other, other_part) != (name, part):
                matches.append(f"{other}'s {other_part}")
    if not matches:
        return ""
    return f" (its {values:,} values are the size of {' or '.join(matches)})"


def import_legacy(name: str, *, generator: str | os.PathLike,
                  discriminator: str | os.PathLike | None = None, tag: str = "imported",
                  out: str | os.PathLike | None = None, source: Mapping[str, Any] | None = None,
                  training_data: Mapping[str, Any] | None = None,
                  recipe: Mapping[str, Any] | None = None,
                  metrics: Mapping[str, Any] | None = None,
                  trained_ranges: Mapping[str, Any] | None = None,
                  notes: list[str] | None = None, license: str | None = None,
                  citation: list[str] | None = None, overwrite: bool = False) -> WeightsRecord:
    """Import checkpoints written by the original Keras 2 / tf.keras code into the zoo.

    Reads HDF5 ``save_weights`` (or ``model.save``) files of the published 3DGAN and Conv2D
    training scripts, maps their arrays onto the zoo network ``name`` by layer order and shape,
    and writes zoo weights plus a record to ``out/<name>/`` (load them with
    ``calozoo.load(name, weights="out/<name>/<tag>.json")``, or set ``CALOZOO_WEIGHTS=out``
    and use the tag).

    Parameters
    ----------
    name
        Zoo name, e.g. ``"conv3d"``.
    generator, discriminator
        The legacy files; the discriminator is optional.
    tag
        Weights tag of the record (letters, digits, ``-``, ``_``, ``.``).
    out
        Folder that receives ``<name>/<tag>.json`` and the weights files (default:
        ``$CALOZOO_WEIGHTS``, else ``./calozoo-weights``).
    source
        Provenance to keep in the record (repository, commit, path…); the original files' names
        and sha256 are added.
    training_data, recipe, metrics, trained_ranges, notes, license, citation
        What the record says about the weights (energies in GeV, angles in degrees).
    overwrite
        Replace an existing record of the same tag (refused otherwise).

    Raises
    ------
    ValueError
        A file that is not a Keras 2 weights file, is damaged, or does not fit the network:
        the message names the first layer or array that differs and both shapes. Nothing is
        written then.
    """
    from calozoo import legacy, registry

    entry = registry.entry(name)
    if generator is None:
        raise ValueError("import_legacy needs the generator file (generator=PATH)")
    networks = {}
    originals = {}
    for part, path in (("generator", generator), ("discriminator", discriminator)):
        if path is None:
            continue
        path = Path(path)
        layers = legacy.read_legacy(path)
        network = registry.build(name, part)
        label = f"{path} (given as the {part})"
        try:
            arrays = legacy.map_onto(layers, network, source=label,
                                     target=f"{name} {part}")
        except legacy.LegacyWeightsError as error:
            hint = _fits_elsewhere(legacy.legacy_value_count(layers), name, part)
            raise legacy.LegacyWeightsError(f"{error}{hint}") from None
        network.set_weights(arrays)
        networks[part] = network
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"] if "model_weights" in handle else handle
            version = root.attrs.get("keras_version", handle.attrs.get("keras_version", b""))
        originals[part] = {"file": path.name, "sha256": sha256(path),
                           "keras_version": version.decode() if isinstance(version, bytes)
                           else str(version)}
    provenance = {**dict(source or {}), "original_files": originals}
    return write_weights(
        _default_import_folder() if out is None else out, name,
        generator=networks["generator"], discriminator=networks.get("discriminator"), tag=tag,
        training_data=training_data or {"description": "not stated (imported checkpoint)"},
        recipe=recipe or {"description": "not stated (imported checkpoint)"},
        metrics=metrics, trained_ranges=trained_ranges,
        source=provenance, notes=notes, license=license or "not stated",
        citation=citation or [entry.reference], overwrite=overwrite)
