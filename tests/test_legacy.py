"""Import of Keras 2 / tf.keras HDF5 checkpoints (the original papers' code) into the zoo.

The legacy files are written here with h5py in the layout Keras 2's ``save_weights`` uses:
root ``layer_names``; a group per top-level layer with ``weight_names`` (``…:0``); a nested
model's arrays under ``sequential_1/<layer>/`` with trainable arrays first and the
BatchNormalization moving statistics at the end.
"""

import subprocess
import sys

import h5py
import numpy as np
import pytest

import calozoo
from calozoo import legacy, registry
from calozoo import weights as weights_lib


def _keras2_names(model) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """(legacy layer name, [(array name, array)]) for each layer with weights."""
    counters: dict[str, int] = {}
    layers = []
    for layer in model.layers:
        if not layer.weights:
            continue
        kinds = {"Dense": "dense", "Conv3D": "conv3d", "Conv2D": "conv2d",
                 "Conv2DTranspose": "conv2d_transpose",
                 "BatchNormalization": "batch_normalization"}
        kind = kinds.get(type(layer).__name__)
        if kind is None or layer.name in ("generation", "auxiliary"):
            name = layer.name
        else:
            counters[kind] = counters.get(kind, 0) + 1
            name = f"{kind}_{counters[kind]}"
        arrays = [(weight.path.rsplit("/", 1)[-1], np.asarray(weight.numpy()))
                  for weight in layer.weights]
        layers.append((name, arrays))
    # Keras 3 lists dict outputs sorted by name; the papers' code made generation first
    heads = [layer for layer in layers if layer[0] in ("generation", "auxiliary")]
    return [layer for layer in layers if layer not in heads] + sorted(
        heads, key=lambda layer: ("generation", "auxiliary").index(layer[0]))


def write_keras2(path, model, *, nested: str | None = "sequential_1", top_level=(),
                 split_layer_names: bool = False) -> None:
    """A Keras 2.0 ``save_weights`` file of ``model``'s weights.

    Layers go into the nested group ``nested`` except those named in ``top_level`` (the
    discriminator heads of the 2017 files), which get their own root groups.
    """
    layers = _keras2_names(model)
    with h5py.File(path, "w") as handle:
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.0.4"
        root_names = [b"input_1"]
        handle.create_group("input_1").attrs["weight_names"] = np.array([], dtype=float)
        inner = [(name, arrays) for name, arrays in layers if name not in top_level]
        if nested:
            group = handle.create_group(nested)
            trainable, moving = [], []
            for name, arrays in inner:
                for array_name, array in arrays:
                    full = f"{name}/{array_name}:0"
                    group.create_dataset(full, data=array)
                    (moving if array_name.startswith("moving") else trainable).append(full)
            group.attrs["weight_names"] = np.array([n.encode() for n in trainable + moving])
            root_names.append(nested.encode())
        else:
            top_level = [name for name, _ in layers]
        for name, arrays in layers:
            if name not in top_level:
                continue
            group = handle.create_group(name)
            names = []
            for array_name, array in arrays:
                group.create_dataset(f"{name}/{array_name}:0", data=array)
                names.append(f"{name}/{array_name}:0".encode())
            group.attrs["weight_names"] = np.array(names)
            root_names.append(name.encode())
        if split_layer_names:
            half = len(root_names) // 2
            handle.attrs["layer_names0"] = np.array(root_names[:half])
            handle.attrs["layer_names1"] = np.array(root_names[half:])
        else:
            handle.attrs["layer_names"] = np.array(root_names)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Fresh conv3d networks and their Keras 2 files (nested, as the 2017 checkpoints)."""
    folder = tmp_path_factory.mktemp("legacy")
    generator = registry.build("conv3d", "generator")
    discriminator = registry.build("conv3d", "discriminator")
    for model in (generator, discriminator):   # non-trivial moving statistics
        for layer in model.layers:
            if hasattr(layer, "moving_variance"):
                layer.moving_mean.assign(np.linspace(-1, 1, layer.moving_mean.shape[0]))
                layer.moving_variance.assign(np.linspace(2, 9, layer.moving_mean.shape[0]))
    discriminator.get_layer("generation").bias.assign([0.1])    # same shapes, told apart
    discriminator.get_layer("auxiliary").bias.assign([0.5])
    write_keras2(folder / "generator.hdf5", generator)
    write_keras2(folder / "discriminator.hdf5", discriminator, nested="model_3",
                 top_level=("generation", "auxiliary"), split_layer_names=True)
    return folder, generator, discriminator


def _same(model, other) -> bool:
    return all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights()))


def test_reads_the_nested_layout_in_keras3_order(originals):
    folder, generator, _ = originals
    layers = legacy.read_legacy(folder / "generator.hdf5")
    assert [layer.path for layer in layers][:3] == [
        "sequential_1/dense_1", "sequential_1/conv3d_1", "sequential_1/batch_normalization_1"]
    assert layers[2].names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert legacy.legacy_value_count(layers) == generator.count_params()


def test_import_round_trip_both_parts(originals, tmp_path):
    folder, generator, discriminator = originals
    record = weights_lib.import_legacy(
        "conv3d", generator=folder / "generator.hdf5",
        discriminator=folder / "discriminator.hdf5", tag="old", out=tmp_path,
        source={"repository": "example/3dgan", "commit": "abc"},
        trained_ranges={"energy_range": [100.0, 500.0], "angle_range": None})
    assert record.source["repository"] == "example/3dgan"
    assert record.source["original_files"]["generator"]["sha256"] == weights_lib.sha256(
        folder / "generator.hdf5")
    path = tmp_path / "conv3d" / "old.json"
    loaded = calozoo.load("conv3d", weights=path)
    assert _same(loaded, generator)
    assert loaded.trained_ranges["energy_range"] == [100.0, 500.0]
    critic = calozoo.load("conv3d", part="discriminator", weights=path)
    assert _same(critic, discriminator)
    for head in ("generation", "auxiliary"):        # same-shaped heads, mapped by name
        np.testing.assert_array_equal(critic.get_layer(head).get_weights()[1],
                                      discriminator.get_layer(head).get_weights()[1])
    with h5py.File(folder / "discriminator.hdf5") as handle:
        assert list(handle.attrs["layer_names1"])[-2:] == [b"generation", b"auxiliary"]


def test_functional_layout_without_nesting(tmp_path):
    generator = registry.build("g3-1branch", "generator")
    write_keras2(tmp_path / "g3.h5", generator, nested=None)
    weights_lib.import_legacy("g3-1branch", generator=tmp_path / "g3.h5", tag="t",
                              out=tmp_path / "out")
    assert _same(calozoo.load("g3-1branch", weights=tmp_path / "out" / "g3-1branch" / "t.json"),
                 generator)


def _refused(tmp_path, match, **kwargs):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=match):
        weights_lib.import_legacy("conv3d", tag="x", out=out, **kwargs)
    assert not out.exists()


def test_a_shape_mismatch_names_the_array_and_both_shapes(originals, tmp_path):
    folder, *_ = originals
    broken = tmp_path / "broken.hdf5"
    broken.write_bytes((folder / "generator.hdf5").read_bytes())
    with h5py.File(broken, "a") as handle:
        del handle["sequential_1/conv3d_2/kernel:0"]
        handle["sequential_1/conv3d_2/kernel:0"] = np.zeros((6, 5, 7, 64, 6), np.float32)
    _refused(tmp_path, r"sequential_1/conv3d_2/kernel has shape 6×5×7×64×6, .* needs "
             r"6×5×8×64×6", generator=broken)


def test_a_missing_layer_is_named(originals, tmp_path):
    folder, *_ = originals
    short = tmp_path / "short.hdf5"
    short.write_bytes((folder / "generator.hdf5").read_bytes())
    with h5py.File(short, "a") as handle:
        group = handle["sequential_1"]
        names = [n for n in group.attrs["weight_names"] if not n.startswith(b"conv3d_4")]
        group.attrs["weight_names"] = np.array(names)
    _refused(tmp_path, r"6 layers with arrays, the zoo network 7; layer 7: .*gets no array",
             generator=short)


def test_wrong_part_and_wrong_model_are_refused(originals, tmp_path):
    folder, *_ = originals
    _refused(tmp_path, r"given as the generator.*size of conv3d's discriminator",
             generator=folder / "discriminator.hdf5")
    g1 = tmp_path / "g1.hdf5"
    write_keras2(g1, registry.build("g1-3branch", "generator"), nested=None)
    _refused(tmp_path, r"does not fit the conv3d generator.*size of g1-3branch's generator",
             generator=g1)


def test_truncated_and_foreign_files_are_refused(originals, tmp_path):
    folder, *_ = originals
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes((folder / "generator.hdf5").read_bytes()[:200_000])
    _refused(tmp_path, "not a readable HDF5 file", generator=truncated)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as handle:
        handle["ECAL"] = np.zeros((2, 3))
    _refused(tmp_path, "no 'layer_names' attribute", generator=plain)


def test_an_existing_tag_is_not_overwritten(originals, tmp_path):
    folder, *_ = originals
    weights_lib.import_legacy("conv3d", generator=folder / "generator.hdf5", tag="a",
                              out=tmp_path)
    before = (tmp_path / "conv3d" / "a.json").read_bytes()
    with pytest.raises(FileExistsError, match="a.json exists"):
        weights_lib.import_legacy("conv3d", generator=folder / "generator.hdf5", tag="a",
                                  out=tmp_path)
    assert (tmp_path / "conv3d" / "a.json").read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "conv3d").iterdir()) == [
        "a.json", "conv3d-a.generator.weights.h5"]


def test_cli_import_and_one_line_refusal(originals, tmp_path):
    folder, generator, _ = originals
    ok = subprocess.run([sys.executable, "-m", "calozoo", "import", "conv3d", "--generator",
                         str(folder / "generator.hdf5"), "--tag", "cli", "--out",
                         str(tmp_path / "w")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert _same(calozoo.load("conv3d", weights=tmp_path / "w" / "conv3d" / "cli.json"),
                 generator)
    bad = subprocess.run([sys.executable, "-m", "calozoo", "import", "conv3d", "--generator",
                          str(folder / "discriminator.hdf5"), "--tag", "bad", "--out",
                          str(tmp_path / "bad")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("calozoo: error:") and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()
