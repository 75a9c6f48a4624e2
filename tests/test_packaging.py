"""The wheel carries every subpackage and the shipped weights folder."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else None


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(path.parent.relative_to(ROOT).parts)
             for path in (ROOT / "calozoo").rglob("__init__.py")}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages"
    assert config["package-dir"]["calozoo._weights"] == "weights"


def test_shipped_weights_folder_is_found():
    from calozoo.weights import shipped_weights_dir

    assert shipped_weights_dir().resolve() in {(ROOT / "weights").resolve(),
                                               (ROOT / "calozoo" / "_weights").resolve()} or \
        shipped_weights_dir().name == "_weights"
