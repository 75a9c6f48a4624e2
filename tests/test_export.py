"""ONNX export: names, dynamic batch, metadata, and agreement with decode() for every model."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import calozoo
from calozoo.generation import NoiseStream

onnxruntime = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
pytest.importorskip("tf2onnx")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("name", calozoo.list_models())
def test_onnx_equals_decode(name, tmp_path):
    generator = calozoo.load(name, weights=None)
    path = calozoo.export_onnx(generator, tmp_path / f"{name}.onnx", name=name)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    angled = "angle" in generator.conditioning.conditions
    assert [value.name for value in session.get_inputs()] == (
        ["noise", "energy", "angle"] if angled else ["noise", "energy"])
    assert [value.name for value in session.get_outputs()] == ["showers"]
    for count in (1, 3):
        noise = NoiseStream(count, generator.latent_size).rows(0, count)
        energies = np.linspace(20.0, 450.0, count)
        angles = np.linspace(65.0, 115.0, count) if angled else None
        feeds = {"noise": noise, "energy": energies.astype(np.float32)}
        if angled:
            feeds["angle"] = angles.astype(np.float32)
        (onnx_showers,) = session.run(["showers"], feeds)
        keras_showers = generator.decode(noise, energies, angles, batch_size=8)
        assert onnx_showers.shape == keras_showers.shape
        for got, expected in zip(onnx_showers, keras_showers):
            assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
    metadata = {entry.key: entry.value for entry in onnx.load(str(path)).metadata_props}
    assert metadata["calozoo_model"] == name
    assert metadata["latent_size"] == str(generator.latent_size)
    assert metadata["grid"] == "x".join(map(str, generator.shape))
    assert "GeV" in metadata["units"] and "energy_range" in metadata["trained_ranges"]


def test_cli_export_and_the_onnxruntime_example(tmp_path):
    target = tmp_path / "conv3d.onnx"
    result = subprocess.run([sys.executable, "-m", "calozoo", "export", "conv3d", "--format",
                             "onnx", "--weights", "none", "-o", str(target)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert target.is_file() and not list(tmp_path.glob("*.tmp*"))
    example = subprocess.run([sys.executable, str(EXAMPLES / "onnx_inference.py"),
                              str(target), "--n", "4", "--energy", "150"],
                             capture_output=True, text=True, timeout=120)
    assert example.returncode == 0, example.stderr
    assert "conv3d (25x25x25" in example.stdout and "4 showers" in example.stdout
    assert not list(tmp_path.glob(".*.part"))
    missing = subprocess.run([sys.executable, "-m", "calozoo", "export", "g1-3branch",
                              "-o", str(tmp_path / "x.onnx")],
                             capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "weights=None" in missing.stderr


def test_example_does_not_import_keras():
    source = (EXAMPLES / "onnx_inference.py").read_text()
    assert "import keras" not in source and "import calozoo" not in source
