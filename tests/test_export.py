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


def _conv3d_graph(channels: int, kernel: tuple, pads: list, channels_last_input: bool):
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    weight = rng.standard_normal((5, channels, *kernel)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    spatial = [7, 6, 5]
    nodes, source = [], "x"
    shape = [None, channels, *spatial]
    if channels_last_input:
        shape = [None, *spatial, channels]
        nodes.append(helper.make_node("Transpose", ["x"], ["t"], perm=[0, 4, 1, 2, 3]))
        source = "t"
    nodes += [helper.make_node("Conv", [source, "w", "b"], ["c"], pads=pads),
              helper.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 4, 1]),
              helper.make_node("Shape", ["c"], ["s"])]
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * 5),
         helper.make_tensor_value_info("s", TensorProto.INT64, [5])],
        initializer=[numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    rng_input = rng.standard_normal([3 if d is None else d for d in shape]).astype(np.float32)
    return model, rng_input


def _run(model, values):
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    return session.run(None, {"x": values})


@pytest.mark.parametrize("channels_last_input", [False, True])
def test_wide_conv3d_becomes_2d_convolutions_with_the_same_result(channels_last_input):
    from calozoo.onnx_layout import split_wide_conv3d

    model, values = _conv3d_graph(64, (2, 3, 3), [0, 1, 0, 0, 1, 2], channels_last_input)
    expected, expected_shape = _run(model, values)
    assert split_wide_conv3d(model) == 1
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("Conv") == 2 and "Sum" in kinds
    assert kinds.count("Transpose") == 2     # the input's composed with the rewrite's own
    onnx.checker.check_model(model)
    result, shape = _run(model, values)
    np.testing.assert_array_equal(shape, expected_shape)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_narrow_or_x_padded_conv3d_stays():
    from calozoo.onnx_layout import split_wide_conv3d

    narrow, _ = _conv3d_graph(6, (2, 2, 2), [0] * 6, False)
    assert split_wide_conv3d(narrow) == 0
    padded_along_x, _ = _conv3d_graph(64, (2, 3, 3), [1, 0, 0, 1, 0, 0], False)
    assert split_wide_conv3d(padded_along_x) == 0


def test_conv3d_export_uses_2d_convolutions(tmp_path):
    path = calozoo.export_onnx("conv3d", tmp_path / "c.onnx", weights=None)
    names = [node.name for node in onnx.load(str(path)).graph.node]
    assert any("/as_2d_" in name for name in names)
