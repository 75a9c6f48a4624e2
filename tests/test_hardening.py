"""Bad input and faults, as a user meets them on the command line: one line, exit 2, no stray
file, no silent overwrite; SIGTERM and kill -9 leave the previous output intact."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from calozoo import data
from calozoo.sim import simulate

EXISTING = b"the previous output"


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "calozoo", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def workdir(tmp_path):
    """A folder with a valid shower file, an existing output and a sub-folder."""
    showers = simulate([100.0] * 6, seed=1)
    data.save(tmp_path / "ref.h5", showers)
    (tmp_path / "old.h5").write_bytes(EXISTING)
    (tmp_path / "old.onnx").write_bytes(EXISTING)
    (tmp_path / "folder").mkdir()
    return tmp_path


def _zero_showers(folder: Path) -> None:
    data.save(folder / "zero.h5", data.Showers(np.zeros((6, 25, 25, 25), np.float32),
                                               np.full(6, 100.0)))


def _negative_showers(folder: Path) -> None:
    showers = simulate([100.0] * 6, seed=2)
    data.save(folder / "negative.h5", data.Showers(showers.images - 1e-3, showers.energies))


GEN = ("generate", "conv3d", "-n", "4", "--energies", "100", "-q")
SIM = ("simulate", "-n", "4", "--energies", "100", "-q")
CASES = [
    # (id, arguments, setup, message fragment, paths that must not exist afterwards)
    ("export-bad-opset", ("export", "g1-3branch", "--weights", "none", "--opset", "3", "-o",
                          "new.onnx"), None, "opset must be an integer from 13", ["new.onnx"]),
    ("export-negative-opset", ("export", "g1-3branch", "--weights", "none", "--opset", "-1",
                               "-o", "new.onnx"), None, "opset must be an integer", []),
    ("simulate-huge-n", ("simulate", "-n", "1000000000000", "--energies", "100", "-o", "x.h5"),
     None, "GiB of memory for the primaries alone", ["x.h5"]),
    ("generate-huge-n", ("generate", "conv3d", "-n", "1000000000000", "--energies", "100",
                         "-o", "x.h5"), None, "GiB of memory for the primaries alone",
     ["x.h5"]),
    ("train-negative-simulate", ("train", "conv3d", "--simulate", "-5", "--epochs", "1",
                                 "--out", "run"), None, "--simulate must be a positive",
     ["run"]),
    ("train-negative-batch", ("train", "conv3d", "--simulate", "16", "--batch-size", "-4",
                              "--epochs", "1", "--out", "run"), None,
     "--batch-size must be positive", ["run"]),
    ("train-zero-batch", ("train", "conv3d", "--simulate", "16", "--batch-size", "0",
                          "--epochs", "1", "--out", "run"), None,
     "--batch-size must be positive", ["run"]),
    ("output-is-a-folder", (*SIM, "-o", "folder"), None, "is a folder", []),
    ("output-empty", (*SIM, "-o", ""), None, "path is empty", []),
    ("output-exists", (*SIM, "-o", "old.h5"), None, "old.h5 exists; pass --overwrite", []),
    ("generate-output-exists", (*GEN, "-o", "old.h5"), None, "exists; pass --overwrite", []),
    ("export-output-exists", ("export", "conv3d", "-o", "old.onnx"), None,
     "old.onnx exists", []),
    ("weights-file-as-output", (*GEN, "--weights", "old.h5", "-o", "old.h5"), None,
     "old.h5 exists", []),
    ("seed-negative", (*SIM, "--seed", "-1", "-o", "x.h5"), None,
     "--seed must be an integer ≥ 0", ["x.h5"]),
    ("seed-not-a-number", (*SIM, "--seed", "abc", "-o", "x.h5"), None,
     "--seed must be an integer ≥ 0, got 'abc'", ["x.h5"]),
    ("weights-empty", (*GEN, "--weights", "", "-o", "x.h5"), None, "--weights is empty",
     ["x.h5"]),
    ("impossible-angle", ("generate", "3dgan-angle", "-n", "2", "--energies", "100",
                          "--angles", "200", "--weights", "none", "-o", "x.h5"), None,
     "outside 0–180 degrees", ["x.h5"]),
    ("evaluate-missing-file", ("evaluate", "ref.h5", "missing.h5", "--out", "report", "-q"),
     None,
     "missing.h5", ["report"]),
    ("evaluate-negative-cells", ("evaluate", "ref.h5", "negative.h5", "--out", "report",
                                 "--no-classifier", "-q"), _negative_showers,
     "negative energies", ["report"]),
    ("evaluate-existing-report", ("evaluate", "ref.h5", "ref.h5", "--out", "folder2",
                                  "--no-classifier", "-q"),
     lambda folder: (folder / "folder2").mkdir() or (folder / "folder2" / "index.html")
     .write_text("mine"), "folder2 exists and is not empty", []),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_cli_refuses_with_one_line(case, workdir):
    _, arguments, setup, fragment, absent = case
    if setup is not None:
        setup(workdir)
    before = {path.name: path.read_bytes() for path in workdir.iterdir() if path.is_file()}
    result = run_cli(*arguments, cwd=workdir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calozoo: error:"), result.stderr
    assert fragment in lines[0]
    for name in absent:
        assert not (workdir / name).exists(), name
    after = {path.name: path.read_bytes() for path in workdir.iterdir() if path.is_file()}
    assert after == before                   # nothing replaced, nothing left behind
    assert not any(name.endswith(".part") for name in os.listdir(workdir))
    if (workdir / "folder2").exists():
        assert (workdir / "folder2" / "index.html").read_text() == "mine"


def test_overwrite_replaces_only_when_asked(workdir):
    result = run_cli(*SIM, "--seed", "1", "-o", "old.h5", "--overwrite", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert len(data.load(workdir / "old.h5")) == 4


def test_evaluate_of_empty_showers_writes_valid_json(workdir):
    _zero_showers(workdir)
    result = run_cli("evaluate", "ref.h5", "zero.h5", "--out", "report", "--no-classifier",
                     "-q", cwd=workdir)
    assert result.returncode == 0, result.stderr
    text = (workdir / "report" / "summary.json").read_text()
    json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in summary.json"))
    assert "warning" not in result.stderr.lower()


def _wait_for_part(folder: Path, process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(name.endswith(".part") for name in os.listdir(folder)):
            time.sleep(1.0)       # let it write a little
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    pytest.fail("no temporary file appeared")


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_a_killed_run_leaves_the_old_output_intact(workdir, kill):
    process = subprocess.Popen(
        [sys.executable, "-m", "calozoo", "simulate", "-n", "2000000", "--energies", "100",
         "-q", "-o", "old.h5", "--overwrite"], cwd=workdir, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_part(workdir, process)
        process.send_signal(kill)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert (workdir / "old.h5").read_bytes() == EXISTING
    leftovers = [name for name in os.listdir(workdir) if name.endswith(".part")]
    if kill == signal.SIGTERM:
        assert process.returncode == 143 and "terminated" in stderr
        assert leftovers == []
    else:
        assert len(leftovers) == 1                     # the dead run's
        result = run_cli(*SIM, "-o", "old.h5", "--overwrite", cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert [name for name in os.listdir(workdir) if name.endswith(".part")] == []


def test_two_writers_never_clobber(tmp_path):
    """The second of two runs that finish on one target refuses instead of replacing."""
    from calozoo._files import publish, temporary_file

    target = tmp_path / "out.h5"
    first, second = temporary_file(target), temporary_file(target)
    first.write_text("first")
    second.write_text("second")
    publish(first, target, overwrite=False)
    with pytest.raises(FileExistsError, match="created by another process"):
        publish(second, target, overwrite=False)
    assert target.read_text() == "first" and not second.exists()


def test_leftovers_of_live_processes_are_kept(tmp_path):
    from calozoo._files import clear_leftovers, temporary_file

    target = tmp_path / "out.h5"
    mine = temporary_file(target)                  # this process is alive
    assert clear_leftovers(target) == [] and mine.exists()


def test_python_api_refuses_an_existing_file(tmp_path):
    import calozoo

    generator = calozoo.load("conv3d", weights=None)
    (tmp_path / "x.h5").write_bytes(EXISTING)
    with pytest.raises(FileExistsError, match="pass --overwrite"):
        generator.generate_to_file(tmp_path / "x.h5", [100.0], seed=1)
    assert (tmp_path / "x.h5").read_bytes() == EXISTING
    generator.generate_to_file(tmp_path / "x.h5", [100.0], seed=1, overwrite=True)
    assert len(data.load(tmp_path / "x.h5")) == 1
    with pytest.raises(FileExistsError):
        data.save(tmp_path / "x.h5", data.load(tmp_path / "x.h5"))


def test_a_batch_larger_than_the_request_is_not_allocated():
    import calozoo

    generator = calozoo.load("conv3d", weights=None)
    showers = generator.generate([100.0, 200.0], seed=1, batch_size=1_000_000)
    np.testing.assert_array_equal(showers, generator.generate([100.0, 200.0], seed=1,
                                                              batch_size=8))


def test_seed_and_angles_are_checked_in_python():
    import calozoo

    generator = calozoo.load("conv3d", weights=None)
    for seed in (-1, "abc", 1.5):
        with pytest.raises(ValueError, match="seed must be an integer ≥ 0"):
            generator.generate([100.0], seed=seed)
    angle = calozoo.load("3dgan-angle", weights=None)
    for angles in (200.0, -400.0, 0.0):
        with pytest.raises(ValueError, match="outside 0–180 degrees"):
            angle.generate([100.0], [angles], seed=1)


def test_damaged_checkpoints_are_named(tmp_path):
    from calozoo.train import train

    run = tmp_path / "run"
    train("conv3d", run, simulate=16, batch_size=16, epochs=1, progress=False)
    checkpoint = run / "checkpoints" / "epoch-0001"
    npz = checkpoint / "generator.npz"
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"generator\.npz: damaged checkpoint file"):
        train("conv3d", run, simulate=16, batch_size=16, epochs=2, resume=True,
              progress=False)
    (run / "run.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"run\.json: damaged run record"):
        train("conv3d", run, simulate=16, batch_size=16, epochs=2, resume=True,
              progress=False)


def test_training_arguments_are_checked_before_a_folder_is_made(tmp_path):
    from calozoo.train import train

    for kwargs, fragment in (({"simulate": -5}, "simulate"), ({"batch_size": -4}, "batch_size"),
                             ({"batch_size": 0}, "batch_size"), ({"seed": -1}, "seed")):
        arguments = {"simulate": 16, "batch_size": 16, "seed": 0, **kwargs}
        with pytest.raises(ValueError, match=fragment):
            train("conv3d", tmp_path / "run", epochs=1, progress=False, **arguments)
        assert not (tmp_path / "run").exists()


def test_convert_names_the_file_for_bad_cells(tmp_path):
    uproot = pytest.importorskip("uproot")
    with uproot.recreate(tmp_path / "g4.root") as handle:
        handle["events"] = {"edep": np.ones((3, 100), np.float32), "Ekin": np.ones(3)}
    result = run_cli("convert", tmp_path / "g4.root", tmp_path / "x.h5", "--tree", "events",
                     "--branch-map", "ecal=edep,energy=Ekin", "--geometry", "25x25x25", "-q")
    assert result.returncode == 2
    assert "g4.root" in result.stderr and "100 cells per shower" in result.stderr
    assert "25x25x25 needs 15625" in result.stderr
    assert not (tmp_path / "x.h5").exists()


def test_the_writer_refuses_an_existing_file(tmp_path):
    """Before anything is written: no temporary file appears."""
    with h5py.File(tmp_path / "y.h5", "w") as handle:
        handle["x"] = 1
    with pytest.raises(FileExistsError):
        data.ShowerWriter(tmp_path / "y.h5", (25, 25, 25))
    assert os.listdir(tmp_path) == ["y.h5"]
