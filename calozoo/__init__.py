"""calozoo: a Keras 3 model zoo for fast calorimeter shower simulation.

Energies are in GeV and angles in degrees (polar angle, 90° = perpendicular) throughout the
public API, unless a name ends in ``_rad``.
"""

from __future__ import annotations

import importlib
import os

# TensorFlow's C++ start-up chatter (no-GPU notices) is not for users; an explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _allowed_cores() -> int:
    """Cores this process may run on (a batch system's allocation), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# TensorFlow sizes its thread pools by the machine's cores; on a batch node that allots a few
# of many, that oversubscribes them. Explicit settings win.
for _variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_variable, str(_allowed_cores()))

from calozoo._version import __version__  # noqa: E402
from calozoo.registry import ModelInfo, list_models, model_info  # noqa: E402

# Keras-dependent parts import on first use, so that `calozoo list` stays quick.
_LAZY = {
    "load": ("calozoo.api", "load"),
    "generate": ("calozoo.api", "generate"),
    "report": ("calozoo.report", "report"),
    "export_onnx": ("calozoo.export", "export_onnx"),
    "finetune": ("calozoo.train.finetune", "finetune"),
    "ShowerGenerator": ("calozoo.models.base", "ShowerGenerator"),
    "ShowerDiscriminator": ("calozoo.models.base", "ShowerDiscriminator"),
}
_SUBMODULES = ("data", "sim", "models", "weights", "registry", "generation", "metrics",
               "train")

__all__ = ["ModelInfo", "ShowerDiscriminator", "ShowerGenerator", "__version__", "export_onnx",
           "finetune", "generate", "list_models", "load", "model_info", "report"]


def __getattr__(name: str):
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"calozoo.{name}")
    raise AttributeError(f"module 'calozoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
