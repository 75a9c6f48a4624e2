"""The folded (sub-pixel) form of the 3D generators: the same function as the published
layers, used by generate() on CPUs and by the ONNX export."""

import numpy as np
import pytest

import calozoo
from calozoo import generation
from calozoo.models import subpixel

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module", params=["conv3d", "3dgan-angle"])
def model(request):
    return calozoo.load(request.param, weights=None)


def _inputs(model, count=3):
    return np.random.default_rng(0).standard_normal(
        (count, model.input_shape[-1])).astype(np.float32)


def _values(model):
    return [v.value for v in model.weights]


def test_folded_call_is_the_same_function(model):
    x = _inputs(model)
    expected = np.asarray(model(x, training=False))
    folded = np.asarray(subpixel.folded_call(model)(_values(model), x))
    assert folded.shape == expected.shape
    np.testing.assert_allclose(folded, expected, rtol=0, atol=2e-5 * np.abs(expected).max())


def test_inference_network_is_the_same_function_and_leaves_the_model_alone(model):
    config = model.get_config()
    x = _inputs(model)
    expected = np.asarray(model(x, training=False))
    network = subpixel.inference_network(model)
    assert network is not model
    assert not any(layer.name.startswith("up_sampling") for layer in network.layers)
    np.testing.assert_allclose(np.asarray(network(x, training=False)), expected, rtol=0,
                               atol=2e-5 * np.abs(expected).max())
    assert model.get_config() == config
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), expected)


def test_generate_folds_on_cpu_and_matches_the_published_layers(model, monkeypatch):
    energies = [150.0, 350.0]
    angles = [80.0, 100.0] if "angle" in model.conditioning.conditions else None
    folded = model.generate(energies, angles, seed=2)
    decoder = generation.decoder_for(model, model.conditioning, "float32", "float32")
    assert decoder.folded == (not generation.on_accelerator())
    monkeypatch.setenv("CALOZOO_FOLD", "0")
    generation._DECODERS.pop(model, None)
    try:
        plain = model.generate(energies, angles, seed=2)
    finally:
        generation._DECODERS.pop(model, None)
    # a cell at the threshold may fall on either side of it
    tolerance = 2e-5 * plain.max() + 1.01 * model.conditioning.threshold
    np.testing.assert_allclose(folded, plain, rtol=0, atol=tolerance)


def test_models_that_do_not_fold_are_left_as_they_are():
    g1 = calozoo.load("g1-3branch", weights=None)
    assert subpixel.folded_call(g1) is None
    assert subpixel.inference_network(g1) is g1


@pytest.mark.parametrize("size, up, pad, kernel", [
    (7, 2, (2, 2), 6), (7, 2, (2, 2), 5), (8, 2, (0, 0), 8), (13, 2, (1, 1), 3),
    (9, 3, (3, 3), 8), (9, 6, (0, 0), 6), (8, 6, (0, 0), 8), (5, 2, (0, 3), 2)])
def test_one_axis_folding_equals_upsample_pad_convolve(size, up, pad, kernel):
    rng = np.random.default_rng(size * 100 + kernel)
    cells, taps = rng.normal(size=size), rng.normal(size=kernel)
    upsampled = np.concatenate([np.zeros(pad[0]), np.repeat(cells, up), np.zeros(pad[1])])
    expected = np.convolve(upsampled, taps[::-1], mode="valid")
    axis = subpixel._Axis(size, up, pad, kernel)
    low, high = axis.input_padding
    padded = np.concatenate([np.zeros(low), cells, np.zeros(high)])
    phases = np.stack([np.convolve(padded, (axis.fold()[phase] @ taps)[::-1], mode="valid")
                       for phase in range(up)], axis=1)
    start, _ = axis.crop
    np.testing.assert_allclose(phases.reshape(-1)[start:start + axis.outputs], expected,
                               atol=1e-12)


def test_frozen_layers_fold_too():
    """Fine-tuning freezes layers, before or after a decoder was made."""
    model = calozoo.load("conv3d", weights=None)
    before = model.generate([200.0], seed=4)
    for layer in model.layers:
        if layer.name.startswith("conv3d"):
            layer.trainable = False
    np.testing.assert_array_equal(model.generate([200.0], seed=4), before)
    fresh = calozoo.load("conv3d", weights=None)
    fresh.set_weights(model.get_weights())
    fresh.trainable = False
    np.testing.assert_array_equal(fresh.generate([200.0], seed=4), before)


def test_bfloat16_decoder_follows_freezing_after_first_use():
    model = calozoo.load("conv3d", weights=None)
    before = model.generate([200.0], seed=4, precision="bfloat16")
    model.trainable = False
    np.testing.assert_array_equal(model.generate([200.0], seed=4, precision="bfloat16"),
                                  before)
