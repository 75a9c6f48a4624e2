"""generate(), decode() and generate_to_file(): shapes, units, seeding, bad input, CLI."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import calozoo
from calozoo import data
from calozoo.generation import NOISE_BLOCK, NoiseStream, OutOfRangeWarning

pytestmark = pytest.mark.backend


@pytest.fixture(scope="module")
def g1():
    return calozoo.load("g1-3branch", weights=None)


@pytest.fixture(scope="module")
def conv3d():
    return calozoo.load("conv3d", weights=None)


ENERGIES = np.linspace(5.0, 450.0, 20)


def test_shapes_units_and_non_negative_cells(g1):
    showers = g1.generate(ENERGIES, seed=1)
    assert showers.shape == (20, 25, 25, 25)
    assert showers.dtype == np.float32
    assert np.all(np.isfinite(showers)) and showers.min() >= 0.0
    positive = showers[showers > 0]
    assert positive.min() >= g1.conditioning.threshold     # below the threshold means 0


def test_scalar_energy_and_float16_output(conv3d):
    one = conv3d.generate(100.0, seed=3)
    assert one.shape == (1, 25, 25, 25)
    half = conv3d.generate([100.0, 100.0], seed=3, output_dtype="float16")
    assert half.dtype == np.float16
    np.testing.assert_allclose(half[0], one[0], rtol=2e-3, atol=1e-3 * one.max())


def test_same_seed_is_bit_identical_and_seeds_differ(g1):
    first = g1.generate(ENERGIES, seed=7, batch_size=8)
    second = g1.generate(ENERGIES, seed=7, batch_size=8)
    other = g1.generate(ENERGIES, seed=8, batch_size=8)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_batch_size_does_not_change_the_showers(g1):
    small = g1.generate(ENERGIES, seed=7, batch_size=8)
    large = g1.generate(ENERGIES, seed=7, batch_size=24)
    assert np.abs(small - large).max() <= 1e-5 * np.abs(small).max()


def test_noise_depends_only_on_seed_and_index():
    stream = NoiseStream(5, 200)
    whole = stream.rows(0, NOISE_BLOCK + 50)
    pieces = np.concatenate([NoiseStream(5, 200).rows(a, b) for a, b in
                             ((0, 10), (10, NOISE_BLOCK - 3), (NOISE_BLOCK - 3, NOISE_BLOCK + 50))])
    np.testing.assert_array_equal(whole, pieces)
    assert not np.array_equal(NoiseStream(6, 200).rows(0, 10), whole[:10])


def test_decode_is_what_generate_runs(g1):
    noise = NoiseStream(11, 200).rows(0, len(ENERGIES))
    np.testing.assert_array_equal(g1.decode(noise, ENERGIES, batch_size=8),
                                  g1.generate(ENERGIES, seed=11, batch_size=8))


def test_conditioning_scales_the_latent(conv3d):
    # conv3d's input is z·Ep/100: decoding noise n at energy E equals decoding n·E/100 at 100 GeV.
    noise = NoiseStream(2, 200).rows(0, 3)
    energies = np.array([50.0, 200.0, 400.0])
    scaled = noise * (energies / 100.0)[:, None].astype(np.float32)
    np.testing.assert_allclose(conv3d.decode(noise, energies, batch_size=8),
                               conv3d.decode(scaled, np.full(3, 100.0), batch_size=8),
                               rtol=1e-5, atol=1e-7)


def test_angle_model_with_angles():
    model = calozoo.load("3dgan-angle", weights=None)
    showers = model.generate([100.0, 300.0], [70.0, 110.0], seed=1, batch_size=8)
    assert showers.shape == (2, 51, 51, 25)
    assert showers.min() >= 0
    broadcast = model.generate([100.0, 300.0], 90.0, seed=1, batch_size=8)
    assert broadcast.shape == (2, 51, 51, 25)


@pytest.mark.parametrize("energies, angles, message", [
    ([100.0, np.nan], None, "NaN"),
    ([100.0, np.inf], None, "NaN or infinite"),
    ([100.0, 0.0], None, "> 0 GeV"),
    ([-5.0], None, "> 0 GeV"),
    ([[1.0, 2.0]], None, "1-D"),
    ([100.0], [90.0], "energy only"),
])
def test_bad_input(conv3d, energies, angles, message):
    with pytest.raises(ValueError, match=message):
        conv3d.generate(energies, angles, seed=1)


def test_angle_model_input_checks():
    model = calozoo.load("3dgan-angle", weights=None)
    with pytest.raises(ValueError, match="conditioned on the angle"):
        model.generate([100.0], seed=1)
    with pytest.raises(ValueError, match="3 angles for 2 energies"):
        model.generate([100.0, 200.0], [60.0, 70.0, 80.0], seed=1)
    with pytest.raises(ValueError, match="noise must be"):
        model.decode(np.zeros((2, 200)), [100.0, 200.0], [90.0, 90.0])


def test_out_of_range_warns_or_raises(conv3d):
    with pytest.warns(OutOfRangeWarning, match="outside the trained range 2–500 GeV"):
        conv3d.generate([1000.0], seed=1)
    with pytest.raises(ValueError, match="outside the trained range"):
        conv3d.generate([1.0], seed=1, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conv3d.generate([2.0, 500.0], seed=1)


def test_generate_to_file_round_trip(g1, tmp_path):
    path = tmp_path / "g1.h5"
    assert g1.generate_to_file(path, ENERGIES, seed=4, batch_size=8) == 20
    loaded = data.load(path)
    np.testing.assert_array_equal(loaded.images, g1.generate(ENERGIES, seed=4, batch_size=8))
    np.testing.assert_allclose(loaded.energies, ENERGIES)
    assert [p.name for p in tmp_path.iterdir()] == ["g1.h5"]


def test_one_liner_caches_the_model():
    first = calozoo.generate("conv3d", [50.0, 60.0], weights=None, seed=2)
    second = calozoo.generate("conv3d", [50.0, 60.0], weights=None, seed=2)
    np.testing.assert_array_equal(first, second)


def test_device_output(conv3d):
    on_device = conv3d.generate([50.0, 60.0], seed=2, output="device")
    import keras
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(on_device),
                                  conv3d.generate([50.0, 60.0], seed=2))


def test_cli_generate_writes_a_readable_file(tmp_path):
    target = tmp_path / "showers.h5"
    result = subprocess.run(
        [sys.executable, "-m", "calozoo", "generate", "g1-3branch", "-n", "10", "--energies",
         "2:500", "--seed", "1", "--weights", "none", "-o", str(target)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "generate" in result.stderr
    showers = data.load(target)
    assert len(showers) == 10 and showers.shape == (25, 25, 25)
    assert showers.images.min() >= 0


def test_cli_generate_errors_leave_no_file(tmp_path):
    target = tmp_path / "x.h5"
    for extra, message in ((["3dgan-angle", "--weights", "none"], "--angles"),
                           (["g1-3branch"], "weights=None"),
                           (["conv3d", "--weights", "none", "--angles", "90"], "energy only")):
        result = subprocess.run(
            [sys.executable, "-m", "calozoo", "generate", *extra, "-n", "2", "--energies",
             "100", "-o", str(target), "-q"], capture_output=True, text=True, timeout=300)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_sparse_output_matches_dense(g1):
    dense = g1.generate(ENERGIES[:6], seed=9, batch_size=8)
    sparse = g1.generate(ENERGIES[:6], seed=9, batch_size=8, output="sparse",
                         sparse_capacity=15625)
    assert sparse.indices.dtype == np.uint16 and sparse.values.shape == (6, 15625)
    np.testing.assert_array_equal(sparse.to_dense(), dense)
    np.testing.assert_array_equal(sparse.nonzero, (dense > 0).sum(axis=(1, 2, 3)))
    with pytest.warns(UserWarning, match="raise sparse_capacity"):
        small = g1.generate(ENERGIES[:6], seed=9, batch_size=8, output="sparse",
                            sparse_capacity=100, output_dtype="float16")
    kept = small.to_dense()
    largest = np.sort(dense.reshape(6, -1), axis=1)[:, -100:]
    np.testing.assert_allclose(np.sort(kept.reshape(6, -1), axis=1)[:, -100:], largest,
                               rtol=1e-3)


def test_sparse_file_round_trip(tmp_path):
    model = calozoo.load("conv3d", weights=None)
    path = tmp_path / "sparse.h5"
    model.generate_to_file(path, [20.0, 80.0, 300.0], seed=5, batch_size=8, sparse=True,
                           sparse_capacity=15625)
    dense = model.generate([20.0, 80.0, 300.0], seed=5, batch_size=8)
    loaded = data.load(path)
    np.testing.assert_allclose(loaded.images, dense, rtol=1e-3, atol=1e-6)   # float16 values
    np.testing.assert_allclose(loaded.energies, [20.0, 80.0, 300.0])


def test_pinned_host_output_gives_the_same_showers(g1, monkeypatch):
    import keras

    from calozoo import generation
    if keras.backend.backend() != "jax":
        pytest.skip("pinned host output is a JAX placement")
    assert generation.pinned_host_sharding() is not None   # the CPU runtime has the kind too
    plain = g1.generate(ENERGIES[:5], seed=4, batch_size=4)
    monkeypatch.setattr(generation, "use_pinned_output", lambda: True)
    decoder = generation.decoder_for(g1, g1.conditioning, "float32", "float32",
                                     pinned_output=True)
    inputs = generation.network_input(g1.conditioning, np.ones((4, 200), np.float32),
                                      ENERGIES[:4], None)
    assert decoder(inputs).sharding.memory_kind == "pinned_host"
    np.testing.assert_array_equal(g1.generate(ENERGIES[:5], seed=4, batch_size=4), plain)
    sparse = g1.generate(ENERGIES[:5], seed=4, batch_size=4, output="sparse",
                         sparse_capacity=15625)
    np.testing.assert_array_equal(sparse.to_dense(), plain)


def test_pinned_output_falls_back_when_it_cannot_compile():
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("pinned host output is a JAX placement")
    from calozoo.generation import _with_fallback

    class Unpinnable:
        def lower(self, *args):
            raise RuntimeError("no pinned memory here")

    call = _with_fallback(Unpinnable(), lambda x: x + 1)
    with pytest.warns(RuntimeWarning, match="pinned host output unavailable"):
        assert call(np.ones(2)).tolist() == [2.0, 2.0]
    assert call(np.ones(2) * 2).tolist() == [3.0, 3.0]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_generate_follows_weights_changed_after_first_use(precision):
    model = calozoo.load("g1-3branch", weights=None)
    before = model.generate(ENERGIES[:3], seed=1, precision=precision)
    model.set_weights([weight * 0.9 for weight in model.get_weights()])
    after = model.generate(ENERGIES[:3], seed=1, precision=precision)
    fresh = calozoo.load("g1-3branch", weights=None)
    fresh.set_weights(model.get_weights())
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, fresh.generate(ENERGIES[:3], seed=1,
                                                        precision=precision))
