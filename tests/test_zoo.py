"""The zoo's five architectures: parameter counts, shapes, heads, save/load, on each backend."""

import dataclasses

import numpy as np
import pytest
import keras

import calozoo

EXPECTED = {
    # name: (generator params, discriminator params, grid)
    "conv3d": (872_948, 73_450, (25, 25, 25)),
    "3dgan-angle": (1_365_047, 87_402, (51, 51, 25)),
    "g1-3branch": (2_055_324, 714_114, (25, 25, 25)),
    "g2-25branch": (2_131_000, 714_114, (25, 25, 25)),
    "g3-1branch": (2_397_022, 902_658, (25, 25, 25)),
}

pytestmark = pytest.mark.backend


def test_list_models_is_the_table():
    assert calozoo.list_models() == sorted(EXPECTED)
    assert calozoo.list_models("g*") == ["g1-3branch", "g2-25branch", "g3-1branch"]
    assert calozoo.list_models("nothing*") == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_info(name):
    generator_params, discriminator_params, grid = EXPECTED[name]
    info = calozoo.model_info(name)
    assert info.name == name
    assert info.shape == grid
    assert info.generator_params == generator_params
    assert info.discriminator_params == discriminator_params
    assert info.latent_size == (254 if name == "3dgan-angle" else 200)
    assert info.conditions == (("energy", "angle") if name == "3dgan-angle" else ("energy",))
    assert info.reference and "arXiv" in info.reference
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "changed"


def _network_input(generator, batch=2):
    return np.random.default_rng(0).normal(size=(batch, generator.input_shape[-1])).astype(
        "float32")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_generator_builds_exactly(name):
    generator_params, _, grid = EXPECTED[name]
    generator = calozoo.load(name, weights=None)
    assert isinstance(generator, calozoo.ShowerGenerator)
    assert isinstance(generator, keras.Model)
    assert generator.count_params() == generator_params
    assert generator.shape == grid
    assert generator.latent_size == calozoo.model_info(name).latent_size
    showers = keras.ops.convert_to_numpy(generator(_network_input(generator), training=False))
    assert showers.shape == (2, *grid, 1)
    assert np.all(np.isfinite(showers))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_discriminator_builds_exactly(name):
    _, discriminator_params, grid = EXPECTED[name]
    discriminator = calozoo.load(name, part="discriminator", weights=None)
    assert isinstance(discriminator, calozoo.ShowerDiscriminator)
    assert discriminator.count_params() == discriminator_params
    images = np.random.default_rng(1).uniform(0, 0.1, size=(3, *grid, 1)).astype("float32")
    heads = discriminator(images, training=False)
    expected_heads = {"generation", "auxiliary", "ecal"}
    if name == "3dgan-angle":
        expected_heads.add("angle_rad")
    assert set(heads) == expected_heads
    heads = {key: keras.ops.convert_to_numpy(value) for key, value in heads.items()}
    for value in heads.values():
        assert value.shape == (3, 1)
        assert np.all(np.isfinite(value))
    assert np.all((heads["generation"] > 0) & (heads["generation"] < 1))
    power = 0.85 if name == "3dgan-angle" else 1.0
    np.testing.assert_allclose(
        heads["ecal"][:, 0], (images.astype("float64") ** (1 / power)).sum(axis=(1, 2, 3, 4)),
        rtol=1e-4)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("part", ["generator", "discriminator"])
def test_save_load_round_trip(name, part, tmp_path):
    model = calozoo.load(name, part=part, weights=None)
    path = tmp_path / f"{name}-{part}.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored) is type(model)
    assert restored.count_params() == model.count_params()
    for original, loaded in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(original),
                                      keras.ops.convert_to_numpy(loaded))
    if part == "generator":
        inputs = _network_input(model)
        assert restored.conditioning == model.conditioning
    else:
        inputs = np.random.default_rng(2).uniform(0, 0.1, size=(2, *EXPECTED[name][2], 1))
        inputs = inputs.astype("float32")
    expected = keras.tree.map_structure(keras.ops.convert_to_numpy, model(inputs, training=False))
    got = keras.tree.map_structure(keras.ops.convert_to_numpy, restored(inputs, training=False))
    keras.tree.map_structure(np.testing.assert_array_equal, expected, got)


def test_g1_final_relu_can_be_switched():
    generator = calozoo.load("g1-3branch", weights=None)
    assert generator.get_layer("final_relu").enabled
    raw = calozoo.registry.build("g1-3branch")
    raw.get_layer("final_relu").enabled = False
    raw.set_weights(generator.get_weights())
    inputs = _network_input(generator, batch=4)
    with_relu = keras.ops.convert_to_numpy(generator(inputs, training=False))
    without = keras.ops.convert_to_numpy(raw(inputs, training=False))
    assert with_relu.min() >= 0
    assert without.min() < 0
    np.testing.assert_allclose(with_relu, np.maximum(without, 0), atol=1e-6)
    assert raw.count_params() == generator.count_params()
