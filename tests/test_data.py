"""Shower files: round trips, every 3DGAN key variant, CaloChallenge, bad input."""

import h5py
import numpy as np
import pytest

from calozoo import data
from calozoo.data import Showers
from calozoo.sim import simulate


@pytest.fixture(scope="module")
def showers():
    return simulate(np.linspace(10, 400, 12), seed=4)


@pytest.fixture(scope="module")
def angled():
    return simulate(np.linspace(10, 400, 6), np.linspace(60, 120, 6), geometry="51x51x25",
                    seed=4)


@pytest.mark.parametrize("format", ["3dgan", "calochallenge"])
def test_round_trip(tmp_path, showers, format):
    path = data.save(tmp_path / "s.h5", showers, format=format)
    loaded = data.load(path)
    assert loaded.images.shape == showers.images.shape
    np.testing.assert_allclose(loaded.images, showers.images, rtol=1e-6)
    np.testing.assert_allclose(loaded.energies, showers.energies)
    assert loaded.angles is None
    assert not list(tmp_path.glob("*.part"))


def test_round_trip_with_angles(tmp_path, angled):
    path = data.save(tmp_path / "a.h5", angled)
    with h5py.File(path) as handle:
        np.testing.assert_allclose(handle["theta"][:], np.radians(angled.angles))
        assert handle.attrs["geometry"] == "51x51x25"
        assert handle.attrs["layout"] == "xyz"
        assert handle.attrs["cell_scale"] == 1.0
        assert handle["ECAL"].compression == "gzip"
        assert handle["ECAL"].chunks[1:] == (51, 51, 25)
    loaded = data.load(path)
    np.testing.assert_allclose(loaded.angles, angled.angles)
    np.testing.assert_array_equal(loaded.images, angled.images)


def test_calochallenge_units_are_mev(tmp_path, showers):
    path = data.save(tmp_path / "c.h5", showers, format="calochallenge")
    with h5py.File(path) as handle:
        assert handle["showers"].shape == (12, 25 * 25 * 25)
        np.testing.assert_allclose(handle["incident_energies"][:, 0], showers.energies * 1000)
        np.testing.assert_allclose(handle["showers"][:].sum(axis=1),
                                   showers.images.sum(axis=(1, 2, 3)) * 1000, rtol=1e-5)


def test_real_calochallenge_files_load_as_flat_voxels(tmp_path):
    path = tmp_path / "dataset1.h5"
    with h5py.File(path, "w") as handle:
        handle["incident_energies"] = np.array([[1000.0], [65536.0]])
        handle["showers"] = np.random.default_rng(0).uniform(0, 5, (2, 368)).astype("f4")
    loaded = data.load(path)
    assert loaded.images.shape == (2, 368)
    assert not loaded.is_grid and loaded.geometry is None
    np.testing.assert_allclose(loaded.energies, [1.0, 65.536])


def _write_3dgan(path, images, **datasets):
    with h5py.File(path, "w") as handle:
        handle["ECAL"] = images
        for key, value in datasets.items():
            handle[key] = value


@pytest.mark.parametrize("energy_key, shape", [("energy", (4,)), ("energy", (4, 1)),
                                               ("target", (4, 1, 5)), ("target", (4, 5))])
def test_3dgan_energy_variants(tmp_path, energy_key, shape):
    images = np.random.default_rng(1).uniform(0, 1, (4, 25, 25, 25)).astype("f4")
    energies = np.array([10.0, 50.0, 100.0, 450.0])
    values = np.zeros(shape)
    if energy_key == "target":
        values.reshape(4, 5)[:, 1] = energies
    else:
        values.reshape(4)[:] = energies
    _write_3dgan(tmp_path / "f.h5", images, **{energy_key: values})
    loaded = data.load(tmp_path / "f.h5")
    np.testing.assert_allclose(loaded.energies, energies)
    np.testing.assert_array_equal(loaded.images, images)   # stored values, no threshold


@pytest.mark.parametrize("angle_key", ["mtheta", "theta", "eta"])
def test_3dgan_angle_variants_and_cell_scale(tmp_path, angle_key):
    images = np.full((3, 51, 51, 25), 50.0, dtype="f4")    # ×50 as in the real angle files
    degrees = np.array([62.0, 90.0, 117.0])
    if angle_key == "eta":
        stored = -np.log(np.tan(np.radians(degrees) / 2))
    else:
        stored = np.radians(degrees)
    _write_3dgan(tmp_path / "f.h5", images, energy=np.array([10.0, 20.0, 30.0]),
                 **{angle_key: stored})
    plain = data.load(tmp_path / "f.h5")
    np.testing.assert_allclose(plain.angles, degrees, atol=1e-9)
    assert plain.images.max() == 50.0
    rescaled = data.load(tmp_path / "f.h5", cell_scale=50)
    assert rescaled.images.max() == pytest.approx(1.0)


def test_start_stop_and_iterate(tmp_path, showers):
    path = data.save(tmp_path / "s.h5", showers)
    part = data.load(path, start=3, stop=7)
    np.testing.assert_array_equal(part.images, showers.images[3:7])
    batches = list(data.iterate(path, batch_size=5))
    assert [len(batch) for batch in batches] == [5, 5, 2]
    np.testing.assert_array_equal(Showers.concatenate(batches).images, showers.images)
    assert data.count(path) == 12


def test_showers_slicing_and_len(showers):
    assert len(showers) == 12
    assert len(showers[2:5]) == 3
    assert showers[0].images.shape == (1, 25, 25, 25)
    assert showers.geometry == "25x25x25"


def test_writer_leaves_nothing_on_failure(tmp_path, showers):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with data.ShowerWriter(target, (25, 25, 25)) as writer:
            writer.write(showers[:4])
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_missing_keys_say_what_was_found(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as handle:
        handle["images"] = np.zeros((2, 25, 25, 25))
        handle["E"] = np.ones(2)
    with pytest.raises(ValueError, match=r"x\.h5.*found keys \['E', 'images'\]"):
        data.load(tmp_path / "x.h5")
    _write_3dgan(tmp_path / "y.h5", np.zeros((2, 25, 25, 25), "f4"), theta=np.ones(2))
    with pytest.raises(ValueError, match="no primary energy"):
        data.load(tmp_path / "y.h5")


def test_inconsistent_lengths(tmp_path):
    _write_3dgan(tmp_path / "f.h5", np.zeros((3, 25, 25, 25), "f4"), energy=np.ones(2))
    with pytest.raises(ValueError, match="inconsistent lengths: 3 showers but 2"):
        data.load(tmp_path / "f.h5")


def test_wrong_rank(tmp_path):
    _write_3dgan(tmp_path / "f.h5", np.zeros((3, 25, 625), "f4"), energy=np.ones(3))
    with pytest.raises(ValueError, match="rank 4"):
        data.load(tmp_path / "f.h5")


@pytest.mark.parametrize("bad", [np.nan, -5.0, 0.0])
def test_bad_energies(tmp_path, bad):
    _write_3dgan(tmp_path / "f.h5", np.zeros((2, 25, 25, 25), "f4"),
                 energy=np.array([10.0, bad]))
    with pytest.raises(ValueError, match="f.h5.*NaN, infinite or ≤ 0"):
        data.load(tmp_path / "f.h5")


def test_truncated_and_corrupt_files(tmp_path, showers):
    path = data.save(tmp_path / "s.h5", showers)
    content = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(content[: len(content) // 2])
    with pytest.raises(OSError, match="cut.h5"):
        data.load(tmp_path / "cut.h5")
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(OSError, match="junk.h5: not a readable HDF5 file"):
        data.load(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        data.load(tmp_path / "missing.h5")


def test_showers_validation():
    with pytest.raises(ValueError, match="2 images but 3 energies"):
        Showers(np.zeros((2, 5, 5, 5)), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        Showers(np.zeros((1, 5, 5, 5)), [np.nan])
    with pytest.raises(ValueError, match="angles"):
        Showers(np.zeros((2, 5, 5, 5)), np.ones(2), angles=[90.0])


def test_written_files_follow_the_umask(tmp_path, showers):
    import os
    import stat

    path = data.save(tmp_path / "perm.h5", showers[:2])
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_simulated_training_batches_do_not_depend_on_the_workers():
    from calozoo.train import training_data

    def epoch_sums(workers, epoch):
        with training_data("g1-3branch", simulate=96, batch_size=32, seed=4,
                           workers=workers) as source:
            return [(batch.energies.copy(), batch.images.sum(axis=(1, 2, 3)))
                    for batch in source.epoch(epoch)]

    alone, pooled = epoch_sums(1, 0), epoch_sums(2, 0)
    assert len(alone) == len(pooled) == 3
    for (energies_a, sums_a), (energies_b, sums_b) in zip(alone, pooled):
        np.testing.assert_array_equal(energies_a, energies_b)
        np.testing.assert_array_equal(sums_a, sums_b)
    assert not np.array_equal(alone[0][0], epoch_sums(1, 1)[0][0])   # reseeded per epoch
    with pytest.raises(ValueError, match="workers must be at least 1"):
        training_data("g1-3branch", simulate=96, batch_size=32, seed=4, workers=0)
