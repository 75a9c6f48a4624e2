"""The trainer: finite losses and checkpoints on each backend, bit-identical resume,
fine-tuning from given weights, and bad input refused before training."""

import csv
import os
import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import calozoo
from calozoo import data
from calozoo.sim import simulate
from calozoo.train import RECIPES, finetune, last_checkpoint, train

pytestmark = pytest.mark.backend

NAME = "g1-3branch"


def _arrays(checkpoint):
    result = {}
    for part in sorted(checkpoint.glob("*.npz")):
        with np.load(part) as arrays:
            result.update({f"{part.stem}:{key}": arrays[key] for key in arrays.files})
    return result


def test_recipes_are_the_published_ones():
    assert RECIPES["conv3d"].loss_weights == {"generation": 2.0, "auxiliary": 0.1, "ecal": 0.1}
    assert RECIPES["conv3d"].generator_steps == 2 and RECIPES["conv3d"].optimizer == "rmsprop"
    assert RECIPES["3dgan-angle"].loss_weights["angle_rad"] == 25.0
    assert RECIPES["g1-3branch"].loss_weights == {"generation": 6.0, "auxiliary": 0.2,
                                                  "ecal": 0.1}
    assert RECIPES["g1-3branch"].relu_switch_epoch == 2
    g_lr, d_lr = RECIPES["g2-25branch"].learning_rates(100.0)
    assert g_lr == pytest.approx(5e-4 * np.exp(-0.012 * 20))
    assert d_lr == pytest.approx(1e-4 * np.exp(-0.012 * 20))
    assert RECIPES["g3-1branch"].energy_range(0) == (1.0, 4.0)
    assert RECIPES["g3-1branch"].energy_range(2) == (0.02, 5.0)


def test_a_few_steps_give_finite_losses_and_a_checkpoint(tmp_path):
    trainer = train(NAME, tmp_path / "run", simulate=64, batch_size=16, epochs=1, seed=1,
                    progress=False)
    assert trainer.epoch == 1
    rows = list(csv.DictReader(open(tmp_path / "run" / "history.csv")))
    assert len(rows) == 1
    for key in ("loss_d_real", "loss_d_fake", "loss_generator", "seconds", "showers_per_s"):
        assert np.isfinite(float(rows[0][key]))
    checkpoint = last_checkpoint(tmp_path / "run")
    assert checkpoint.name == "epoch-0001"
    assert sorted(path.name for path in checkpoint.iterdir()) == [
        "d_optimizer.npz", "discriminator.npz", "g_optimizer.npz", "generator.npz",
        "state.json"]
    assert all(np.all(np.isfinite(value)) for value in _arrays(checkpoint).values())
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"] == NAME and len(run["energy_fit"]) >= 1
    generator = calozoo.load(NAME, weights=tmp_path / "run" / "weights")
    assert generator.generate([100.0], seed=1).shape == (1, 25, 25, 25)


def test_resume_is_bit_identical(tmp_path):
    train(NAME, tmp_path / "straight", simulate=32, batch_size=16, epochs=2, seed=5,
          keep_checkpoints=1, progress=False)
    assert [path.name for path in (tmp_path / "straight" / "checkpoints").iterdir()] == \
        ["epoch-0002"]
    stopped = train(NAME, tmp_path / "resumed", simulate=32, batch_size=16, epochs=2, seed=5,
                    max_minutes=0, progress=False)         # the budget ends it after epoch 1
    assert stopped.epoch == 1
    with pytest.raises(ValueError, match="use --resume"):
        train(NAME, tmp_path / "resumed", simulate=32, batch_size=16, epochs=2, seed=5,
              progress=False)
    with pytest.raises(ValueError, match="started with seed 5; resume it with the same --seed"):
        train(NAME, tmp_path / "resumed", simulate=32, batch_size=16, epochs=2, seed=6,
              resume=True, progress=False)
    with open(tmp_path / "resumed" / "history.csv", "a") as history:   # killed after its
        history.write("2,1,1,1,1,1\n")                                  # row, before saving
    train(NAME, tmp_path / "resumed", simulate=32, batch_size=16, epochs=2, seed=5,
          resume=True, progress=False)
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "history.csv")))
    assert [row["epoch"] for row in rows] == ["1", "2"] and rows[1]["loss_d_real"] != "1"
    straight = _arrays(last_checkpoint(tmp_path / "straight"))
    resumed = _arrays(last_checkpoint(tmp_path / "resumed"))
    assert last_checkpoint(tmp_path / "resumed").name == "epoch-0002"
    assert straight.keys() == resumed.keys()
    for key in straight:
        np.testing.assert_array_equal(straight[key], resumed[key], err_msg=key)
    (last_checkpoint(tmp_path / "resumed") / "d_optimizer.npz").unlink()
    with pytest.raises(ValueError, match="incomplete checkpoint, d_optimizer.npz missing"):
        train(NAME, tmp_path / "resumed", simulate=32, batch_size=16, epochs=3, seed=5,
              resume=True, progress=False)


def test_bfloat16_training_keeps_float32_weights_and_tracks_float32_losses(tmp_path):
    runs = {precision: train(NAME, tmp_path / precision, simulate=32, batch_size=16, epochs=1,
                             seed=2, precision=precision, progress=False)
            for precision in ("float32", "bfloat16")}
    mixed = runs["bfloat16"]
    assert mixed.generator.dtype_policy.name == "mixed_bfloat16"
    assert mixed.generator.get_layer("project").compute_dtype == "bfloat16"
    rows = {precision: list(csv.DictReader(open(tmp_path / precision / "history.csv")))[0]
            for precision in runs}
    for key in ("loss_d_real", "loss_d_fake", "loss_generator"):
        # same seed, same start, same batches: the bfloat16 losses are near the float32 ones
        mixed_loss, exact_loss = float(rows["bfloat16"][key]), float(rows["float32"][key])
        assert np.isfinite(mixed_loss) and abs(mixed_loss / exact_loss - 1) < 0.3, key
    checkpoint = _arrays(last_checkpoint(tmp_path / "bfloat16"))
    assert {value.dtype for key, value in checkpoint.items() if "trainable" in key} == \
        {np.dtype("float32")}
    keras.utils.set_random_seed(2)
    start = calozoo.load(NAME, weights=None)          # the runs' starting point
    moved = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                for a, b in zip(start.trainable_weights, mixed.generator.trainable_weights))
    assert 0 < moved < 0.01, moved                     # two Adam steps of 5e-4
    record = json.loads((tmp_path / "bfloat16" / "weights" / NAME / "default.json").read_text())
    assert record["recipe"]["precision"] == "bfloat16"
    generator = calozoo.load(NAME, weights=tmp_path / "bfloat16" / "weights")
    showers = generator.generate([50.0, 100.0], seed=3)
    assert showers.dtype == np.float32 and np.all(np.isfinite(showers))


def test_finetune_starts_from_the_given_weights(tmp_path):
    start = calozoo.load("conv3d", weights=None)
    path = tmp_path / "start.weights.h5"
    start.save_weights(path)
    reference = simulate(np.full(32, 80.0), detector="pbwo4", seed=3)
    frozen = finetune("conv3d", reference, epochs=1, weights=path, learning_rate=0.0,
                      batch_size=16, out_dir=tmp_path / "zero", progress=False)
    for before, after in zip(start.trainable_weights, frozen.trainable_weights):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    tuned = finetune("conv3d", reference, epochs=1, weights=path, batch_size=16,
                     out_dir=tmp_path / "tuned", freeze=("project",), progress=False)
    with pytest.raises(ValueError, match="already holds a run"):
        finetune("conv3d", reference, epochs=1, weights=path, out_dir=tmp_path / "tuned",
                 progress=False)
    changed = [not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(start.trainable_weights, tuned.trainable_weights)]
    assert any(changed)
    np.testing.assert_array_equal(np.asarray(start.get_layer("project").kernel),
                                  np.asarray(tuned.get_layer("project").kernel))


def test_bad_input_is_refused_before_training(tmp_path):
    angled = simulate([100.0] * 2, [90.0] * 2, geometry="51x51x25", seed=1)
    with pytest.raises(ValueError, match=r"shape \(51, 51, 25\), but the model makes"):
        train(NAME, tmp_path / "a", angled, epochs=1, progress=False)
    empty = tmp_path / "empty.h5"
    with data.ShowerWriter(empty, (25, 25, 25)):
        pass
    with pytest.raises(ValueError, match="holds no showers"):
        train(NAME, tmp_path / "b", str(empty), epochs=1, progress=False)
    train("conv3d", tmp_path / "c", simulate=16, batch_size=16, epochs=1, progress=False)
    with pytest.raises(ValueError, match="a run of conv3d, not of g1-3branch"):
        train(NAME, tmp_path / "c", simulate=16, batch_size=16, epochs=1, progress=False)
    with pytest.raises(ValueError, match="fewer showers than one batch"):
        train(NAME, tmp_path / "d", simulate=8, batch_size=16, epochs=1, progress=False)
    with pytest.raises(ValueError, match="no layer matches"):
        finetune(NAME, simulate=16, batch_size=16, epochs=1, weights=None,
                 freeze=("nothing*",), out_dir=tmp_path / "e", progress=False)


def test_cli_train_and_errors(tmp_path):
    # two simulation processes: `python -m calozoo` must be safe to spawn from
    result = subprocess.run([sys.executable, "-m", "calozoo", "train", "conv3d", "--simulate",
                             "32", "--batch-size", "16", "--epochs", "1", "--workers", "2",
                             "--out", str(tmp_path / "run"), "-q"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "checkpoints" / "epoch-0001" / "generator.npz").is_file()
    bad = subprocess.run([sys.executable, "-m", "calozoo", "train", "conv3d", "--epochs", "1",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode == 2 and "--data FILE... or --simulate N" in bad.stderr
    negative = subprocess.run([sys.executable, "-m", "calozoo", "train", "conv3d", "--simulate",
                               "16", "--epochs", "1", "--max-minutes", "-1", "--out",
                               str(tmp_path / "y")], capture_output=True, text=True,
                              timeout=300)
    assert negative.returncode == 2 and "--max-minutes must not be negative" in negative.stderr
    assert not (tmp_path / "y").exists()


DATA_PARALLEL = """
import csv, json, sys
from calozoo.train import train

def run(out, devices, epochs, resume=False):
    train("g1-3branch", out, epochs=epochs, simulate=32, batch_size=8, seed=3, progress=False,
          devices=devices, resume=resume)
    with open(f"{out}/history.csv") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

folder = sys.argv[1]
two = run(f"{folder}/two", 2, 1)
one = run(f"{folder}/one", 1, 1)
two_then_one = run(f"{folder}/two", 1, 2, resume=True)     # a 2-device checkpoint on 1 device
one_then_two = run(f"{folder}/one", 2, 2, resume=True)
print(json.dumps({"two": two, "one": one, "two_then_one": two_then_one,
                  "one_then_two": one_then_two}))
"""


@pytest.mark.skipif(keras.backend.backend() != "jax",
                    reason="runs once, in the JAX pass of the test command (its subprocess is "
                           "JAX whatever the backend of the pass)")
def test_data_parallel_on_two_devices_follows_one_device(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run([sys.executable, "-c", DATA_PARALLEL, str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    losses = ("loss_d_real", "loss_d_fake", "loss_generator")
    # the same global batch split over two devices: the same maths up to summation order
    for key in losses:
        assert runs["two"][0][key] == pytest.approx(runs["one"][0][key], rel=1e-2), key
    # checkpoints hold plain arrays: each run resumes on the other device count
    assert len(runs["two_then_one"]) == len(runs["one_then_two"]) == 2
    for key in losses:
        assert runs["two_then_one"][1][key] == pytest.approx(runs["one_then_two"][1][key],
                                                             rel=1e-2), key


def test_data_parallel_is_refused_on_tensorflow_and_for_bad_counts(tmp_path):
    import keras

    from calozoo.train.trainer import data_parallel_mesh

    if keras.backend.backend() == "tensorflow":
        with pytest.raises(ValueError, match="JAX backend"):
            data_parallel_mesh(2, 64)
    assert data_parallel_mesh(None, 64) is None and data_parallel_mesh(1, 64) is None
