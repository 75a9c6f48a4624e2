"""Hyper-parameter search: the search spaces and recipe files, the step-budget trainer, and
Optuna studies at tiny scale (two workers on one SQLite file, a killed worker, a pruned
trial), ending in ``calozoo train --recipe``."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from calozoo.cli import main
from calozoo.train import (CPU_BATCH_SIZES, SEARCH_SPACES, Trainer, load_recipe, recipe,
                           training_data, write_recipe)
from calozoo.train.search import report_points, sample_recipe, search_space

optuna = pytest.importorskip("optuna")

NAME = "g1-3branch"
# A trial as small as a study can be: 4-shower batches, 2 steps, scored once on 40 showers.
TINY_SPACE = {"batch_size": {"choices": [4]}}
TINY = ["--simulate", "8", "--budget-steps", "2", "--reports", "1",
        "--validation-showers", "40", "--workers", "1"]


def _trials(storage: str, study: str):
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def _worker(tmp_path, storage, *extra, trials=4, study="tiny"):
    """A ``calozoo tune`` process (the CLI as a user runs it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "calozoo", "tune", NAME, "--trials", str(trials), "--storage",
         storage, "--study", study, "--space", str(tmp_path / "space.json"), "--out",
         str(tmp_path / "out"), *TINY, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KERAS_BACKEND": "tensorflow"})


# search spaces and recipe files --------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_every_default_space_is_valid_and_holds_the_published_settings(name):
    space = search_space(name, on_cpu=True)
    assert space["batch_size"]["choices"] == CPU_BATCH_SIZES[name]
    assert recipe(name).batch_size in search_space(name, on_cpu=False)["batch_size"]["choices"]
    published = recipe(name)
    assert {"generator_lr", "discriminator_lr", "batch_size", "generator_steps"} <= set(space)
    assert {f"loss_weights.{head}" for head in published.loss_weights} <= set(space)
    for key in ("generator_lr", "discriminator_lr"):
        assert space[key]["log"] and \
            space[key]["low"] <= getattr(published, key) <= space[key]["high"]
    for head, weight in published.loss_weights.items():
        entry = space[f"loss_weights.{head}"]
        assert entry["low"] <= weight <= entry["high"]
    drawn = sample_recipe(optuna.trial.FixedTrial(
        {key: spec["choices"][0] if "choices" in spec else spec["low"]
         for key, spec in space.items()}), space, published)
    assert drawn.batch_size == space["batch_size"]["choices"][0]
    assert drawn.loss_weights["ecal"] == space["loss_weights.ecal"]["low"]
    assert isinstance(drawn.generator_steps, int)


def test_a_space_file_changes_fixes_and_removes_settings(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("generator_lr: {low: 1.0e-5, high: 1.0e-3, log: true}\n"
                    "batch_size: {choices: [64, 128]}\n"
                    "loss_weights.ecal: 0.3\n"
                    "generator_steps: null\n")
    space = search_space("conv3d", path)
    assert space["generator_lr"] == {"low": 1e-5, "high": 1e-3, "log": True}
    assert space["batch_size"] == {"choices": [64, 128]}
    assert "generator_steps" not in space
    drawn = sample_recipe(optuna.trial.FixedTrial(
        {"generator_lr": 2e-4, "discriminator_lr": 1e-3, "batch_size": 128,
         "loss_weights.generation": 2.0, "loss_weights.auxiliary": 0.1}), space,
        recipe("conv3d"))
    assert drawn.loss_weights["ecal"] == 0.3 and drawn.generator_steps == 2
    assert drawn.generator_lr == 2e-4 and drawn.batch_size == 128


@pytest.mark.parametrize("name", sorted(SEARCH_SPACES))
def test_the_example_space_file_fits_every_model(name):
    from pathlib import Path

    example = Path(__file__).parents[1] / "examples" / "tune_space_finetune.json"
    space = search_space(name, example, on_cpu=False)
    assert space["generator_lr"] == {"low": 1e-5, "high": 1e-3, "log": True}
    assert not any(key.startswith("loss_weights.") and key != "loss_weights.angle_rad"
                   for key in space)
    assert recipe(name).batch_size in space["batch_size"]["choices"]


@pytest.mark.parametrize("entry, message", [
    ({"learning_rate": {"low": 1e-4, "high": 1e-3}}, "unknown setting 'learning_rate'"),
    ({"generator_lr": {"low": 1e-3, "high": 1e-4}}, "low < high"),
    ({"generator_lr": {"low": 0.0, "high": 1e-3, "log": True}}, "log range needs low > 0"),
    ({"batch_size": {"low": 8, "high": 12.5}}, "whole number"),
    ({"batch_size": {"choices": [0, 8]}}, "batch_size must be a positive integer"),
    ({"loss_weights.angle_rad": {"low": 1.0, "high": 9.0}}, "no loss head 'angle_rad'"),
    ({"generator_lr": {"choices": []}}, "non-empty list"),
    ({"generator_lr": {"low": 1e-4}}, "low < high"),
])
def test_bad_space_entries_are_refused_with_their_name(tmp_path, entry, message):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(entry))
    with pytest.raises(ValueError, match=message) as error:
        search_space("conv3d", path)
    assert str(path) in str(error.value)


def test_recipe_files_round_trip_and_refuse_another_model(tmp_path):
    tuned = recipe("conv3d").replace({"generator_lr": 3e-4, "loss_weights.ecal": 0.2,
                                      "batch_size": 16})
    path = write_recipe(tmp_path / "best.json", "conv3d", tuned, notes={"trial": 3})
    assert load_recipe(path, "conv3d") == tuned
    assert json.loads(path.read_text())["notes"] == {"trial": 3}
    with pytest.raises(ValueError, match="a recipe of conv3d, not of g1-3branch"):
        load_recipe(path, "g1-3branch")
    (tmp_path / "bad.json").write_text('{"generator_lr": -1}')
    with pytest.raises(ValueError, match="generator_lr must be a positive number"):
        load_recipe(tmp_path / "bad.json", "conv3d")
    (tmp_path / "typo.json").write_text('{"generater_lr": 1e-3}')
    with pytest.raises(ValueError, match="unknown setting 'generater_lr'"):
        load_recipe(tmp_path / "typo.json", "conv3d")
    (tmp_path / "broken.json").write_text('{"generator_lr": ')
    with pytest.raises(ValueError, match="damaged recipe file"):
        load_recipe(tmp_path / "broken.json", "conv3d")


def test_report_points_end_at_the_budget():
    assert report_points(20, 4) == [5, 10, 15, 20]
    assert report_points(2, 4) == [1, 2]
    assert report_points(7, 1) == [7]


# the step-budget trainer --------------------------------------------------------------------

@pytest.mark.backend
def test_train_steps_continues_across_epochs_as_train_does(tmp_path):
    """Three steps then one more, over epochs of two batches, end where two epochs of
    train() end: same batches, same schedule, same weights."""
    with training_data(NAME, simulate=8, batch_size=4, seed=3) as data:
        stepped = Trainer(NAME, tmp_path / "a", batch_size=4, seed=3)
        losses = stepped.train_steps(data, 3)
        assert all(np.isfinite(value) for value in losses.values())
        stepped.train_steps(data, 1)
        stepped.sync_models()
        whole = Trainer(NAME, tmp_path / "b", batch_size=4, seed=3)
        whole.train(data, epochs=2, progress=False)
    assert stepped.epoch == 2
    # TensorFlow's CPU kernels are not bit-reproducible (two train() runs differ by ~1e-5
    # here, and Adam blows that up in a few weights with tiny gradients); one Adam step more
    # or less moves nearly every weight by ~5e-4.
    differences = np.concatenate([np.abs(left - right).ravel() for left, right in zip(
        stepped.generator.get_weights(), whole.generator.get_weights())])
    assert np.mean(differences > 1e-4) < 1e-3
    assert np.median(differences) < 1e-5


# studies -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_worker_study(tmp_path_factory):
    """Two ``calozoo tune`` processes share a 4-trial study in one SQLite file."""
    tmp_path = tmp_path_factory.mktemp("study")
    (tmp_path / "space.json").write_text(json.dumps(TINY_SPACE))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    workers = [_worker(tmp_path, storage), _worker(tmp_path, storage)]
    outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    return tmp_path, storage, workers, outputs


def test_two_workers_complete_the_study_together(two_worker_study):
    tmp_path, storage, workers, outputs = two_worker_study
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    trials = _trials(storage, "tiny")
    numbers = [trial.number for trial in trials]
    assert sorted(numbers) == [0, 1, 2, 3]
    assert all(trial.state.is_finished() and trial.state.name != "FAIL" for trial in trials)
    # each worker ran at least one of them
    for output in outputs:
        assert "started" in output, output
    assert (tmp_path / "out" / "summary.html").is_file()
    assert "history.png" in (tmp_path / "out" / "summary.html").read_text()


def test_the_best_recipe_trains(two_worker_study, tmp_path):
    study_dir, storage, _, _ = two_worker_study
    best = json.loads((study_dir / "out" / "best_recipe.json").read_text())
    complete = [trial for trial in _trials(storage, "tiny") if trial.state.name == "COMPLETE"]
    winner = min(complete, key=lambda trial: trial.value)
    assert best["notes"]["trial"] == winner.number
    assert best["notes"]["score"] == pytest.approx(winner.value)
    assert 0 < best["notes"]["score_error"] < 1
    assert best["generator_lr"] == pytest.approx(winner.params["generator_lr"])
    assert best["batch_size"] == 4
    run = tmp_path / "run"
    assert main(["train", NAME, "--recipe", str(study_dir / "out" / "best_recipe.json"),
                 "--simulate", "8", "--epochs", "1", "--out", str(run), "--workers", "1",
                 "-q"]) == 0
    stored = json.loads((run / "run.json").read_text())["recipe"]
    assert stored["generator_lr"] == pytest.approx(winner.params["generator_lr"])
    assert stored["batch_size"] == 4
    record = json.loads(next((run / "weights").glob("*/*.json")).read_text())
    assert record["recipe"]["changed_from_published"]["generator_lr"] == \
        pytest.approx(winner.params["generator_lr"])
    # resuming with another recipe is refused before anything trains
    other = write_recipe(tmp_path / "other.json", NAME,
                         recipe(NAME).replace({"generator_lr": 1e-3}))
    assert main(["train", NAME, "--recipe", str(other), "--resume", "--simulate", "8",
                 "--epochs", "2", "--out", str(run), "--workers", "1", "-q"]) == 2


def test_a_killed_workers_trial_is_failed_and_the_study_continues(tmp_path):
    (tmp_path / "space.json").write_text(json.dumps(TINY_SPACE))
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    doomed = _worker(tmp_path, storage, "--grace-seconds", "3", trials=1, study="kill")
    deadline = time.monotonic() + 300
    running = []
    while not running and time.monotonic() < deadline and doomed.poll() is None:
        time.sleep(0.5)
        if (tmp_path / "study.db").is_file():
            with sqlite3.connect(tmp_path / "study.db") as db:
                try:        # a trial that has started and sent its first heartbeat
                    running = db.execute(
                        "select trials.number from trials join trial_heartbeats on "
                        "trials.trial_id = trial_heartbeats.trial_id where trials.state = "
                        "'RUNNING'").fetchall()
                except sqlite3.OperationalError:    # the tables are being created
                    pass
    assert running, doomed.communicate()[0]
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.communicate()
    time.sleep(4)                       # the grace period passes without a heartbeat
    survivor = _worker(tmp_path, storage, "--grace-seconds", "3", trials=1, study="kill")
    output = survivor.communicate(timeout=600)[0]
    assert survivor.returncode == 0, output
    states = {trial.number: trial.state.name for trial in _trials(storage, "kill")}
    assert states[running[0][0]] == "FAIL"
    assert sorted(states.values()) == ["COMPLETE", "FAIL"]


def test_a_trial_worse_than_the_median_is_pruned_early(tmp_path):
    from calozoo.train import tune

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="prune")
    for _ in range(2):      # two finished trials that scored perfectly at every report
        study.add_trial(optuna.trial.create_trial(value=0.0,
                                                  intermediate_values={1: 0.0, 2: 0.0}))
    (tmp_path / "space.json").write_text(json.dumps(TINY_SPACE))
    tune(NAME, simulate=8, trials=3, storage=storage, study="prune", budget_steps=2,
         reports=2, validation_showers=40, space=tmp_path / "space.json", workers=1,
         out_dir=tmp_path / "out")
    pruned = _trials(storage, "prune")[2]
    assert pruned.state.name == "PRUNED"
    assert list(pruned.intermediate_values) == [1]      # stopped after its first report
    assert not (tmp_path / "out" / "best_recipe.json").exists() or \
        json.loads((tmp_path / "out" / "best_recipe.json").read_text())["notes"]["trial"] < 2


def test_tune_refuses_bad_settings_with_one_line(tmp_path, capsys):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    base = ["tune", NAME, "--trials", "1", "--out", str(tmp_path / "out")]
    assert main([*base, "--simulate", "8", "--storage", "study.db"]) == 2
    assert "must be a database URL" in capsys.readouterr().err
    assert main([*base, "--storage", storage]) == 2
    assert "give either --data FILE... or --simulate N" in capsys.readouterr().err
    assert main([*base, "--simulate", "8", "--storage", storage, "--budget-steps", "0"]) == 2
    assert "budget_steps must be a whole number" in capsys.readouterr().err
    assert main(["tune", "conv3d", "--trials", "1", "--out", str(tmp_path / "out"),
                 "--data", str(tmp_path / "one.h5"), "--storage", storage]) == 2
    assert "at least two --data files" in capsys.readouterr().err
    assert not (tmp_path / "out" / "best_recipe.json").exists()


def test_tune_without_optuna_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert main(["tune", NAME, "--trials", "1", "--simulate", "8", "--out",
                 str(tmp_path / "out")]) == 2
    assert "pip install 'calozoo[tune]'" in capsys.readouterr().err
