"""Where pretrained weights live and how a ``weights=`` argument resolves to a file.

Shipped weights are stored as ``<name>/<tag>.weights.h5`` with a JSON record
``<name>/<tag>.json`` in the project's ``weights/`` folder, which the wheel carries inside the
package as ``calozoo/_weights``.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_TAG = "default"


def shipped_weights_dir() -> Path:
    """The folder of weights shipped with calozoo (in the wheel, or the source checkout)."""
    package = Path(__file__).resolve().parent
    inside = package / "_weights"
    return inside if inside.is_dir() else package.parent / "weights"


def available_tags(name: str) -> tuple[str, ...]:
    """Weights tags shipped for model ``name``, the default first."""
    folder = shipped_weights_dir() / name
    if not folder.is_dir():
        return ()
    tags = sorted(record.stem for record in folder.glob("*.json"))
    return tuple(sorted(tags, key=lambda tag: tag != DEFAULT_TAG))


def resolve(name: str, weights: str | os.PathLike) -> Path:
    """The weights file that ``weights`` (a tag or a path) names for model ``name``."""
    candidate = Path(weights)
    if candidate.exists():
        if candidate.is_dir():
            candidate = candidate / f"{name}.weights.h5"
            if not candidate.is_file():
                raise FileNotFoundError(f"no file {candidate.name} in folder {weights}")
        return candidate
    tag = str(weights)
    if isinstance(weights, os.PathLike) or os.sep in tag or tag.endswith((".h5", ".keras")):
        raise FileNotFoundError(f"weights file {tag} does not exist")
    tags = available_tags(name)
    if not tags:
        raise FileNotFoundError(
            f"no pretrained weights for {name!r} yet; load(..., weights=None) gives a "
            "randomly initialised model"
        )
    if tag == DEFAULT_TAG:
        tag = tags[0]
    if tag not in tags:
        raise FileNotFoundError(
            f"{tag!r} is neither a file nor a weights tag of {name!r} "
            f"(tags: {', '.join(tags)})"
        )
    return shipped_weights_dir() / name / f"{tag}.weights.h5"
