"""Sharded generation: shards merged equal the unsharded file; bad merges are refused with
nothing left behind; the batch-system examples run the right commands."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import calozoo
import calozoo.data
from calozoo import shards

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def generator():
    return calozoo.load("conv3d")


def _contents(path):
    with h5py.File(path, "r") as handle:
        return {name: handle[name][()] for name in handle}


def _shard_files(generator, folder, energies, count, **kwargs):
    paths = []
    for index in range(count):
        path = folder / f"out-{index}.h5"
        generator.generate_to_file(path, energies, seed=5, shard=(index, count), **kwargs)
        paths.append(path)
    return paths


@pytest.mark.parametrize("options", [{}, {"format": "calochallenge"}, {"sparse": True},
                                     {"output_dtype": "float16"}],
                         ids=["3dgan", "calochallenge", "sparse", "float16"])
def test_four_shards_merged_equal_the_unsharded_file(generator, tmp_path, options):
    energies = np.random.default_rng(0).uniform(100, 500, 11)     # 11 = not divisible by 4
    whole = tmp_path / "whole.h5"
    generator.generate_to_file(whole, energies, seed=5, batch_size=4, **options)
    paths = _shard_files(generator, tmp_path, energies, 4, batch_size=3, **options)
    merged = shards.merge(tmp_path / "merged.h5", list(reversed(paths)))
    expected, found = _contents(whole), _contents(merged)
    assert expected.keys() == found.keys()
    for name in expected:
        np.testing.assert_array_equal(found[name], expected[name], err_msg=name)
    with h5py.File(merged) as handle:
        assert int(handle.attrs["total"]) == 11 and "shard" not in handle.attrs
        if options.get("output_dtype") == "float16":
            assert handle["ECAL"].dtype == np.float16
    loaded = calozoo.data.load(merged)
    assert loaded.images.dtype == np.float32 and len(loaded) == 11


def test_shard_ranges_cover_every_row_once():
    for total in (0, 1, 7, 11, 1000):
        for count in (1, 3, 4, 16):
            ranges = [shards.shard_range(total, (index, count)) for index in range(count)]
            assert ranges[0][0] == 0 and ranges[-1][1] == total
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
    with pytest.raises(ValueError, match="K must be"):
        shards.parse_shard("4/4")
    with pytest.raises(ValueError, match="K/S"):
        shards.parse_shard("two")


def test_primaries_depend_on_the_row_only():
    energy, angle = shards.primaries(3, 0, 3000, (2.0, 500.0), (60.0, 120.0))
    part_energy, part_angle = shards.primaries(3, 1000, 2100, (2.0, 500.0), (60.0, 120.0))
    np.testing.assert_array_equal(part_energy, energy[1000:2100])
    np.testing.assert_array_equal(part_angle, angle[1000:2100])
    assert energy.min() >= 2 and energy.max() <= 500 and len(set(energy)) == 3000


def _leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_bad_merges_are_refused_with_one_line_and_no_output(generator, tmp_path):
    energies = np.full(8, 200.0)
    paths = _shard_files(generator, tmp_path, energies, 4)
    target = tmp_path / "merged.h5"
    other = tmp_path / "other-seed.h5"
    generator.generate_to_file(other, energies, seed=6, shard=(1, 4))
    cases = [
        (paths[:1] + paths[2:], "rows 2–4 are missing"),
        (paths + [paths[1]], "overlaps"),
        ([paths[0], other, paths[2], paths[3]], "seed"),
        (paths[:3], "rows 6–8 are missing"),
    ]
    for inputs, message in cases:
        with pytest.raises(ValueError, match=message):
            shards.merge(target, inputs)
        assert not target.exists() and _leftovers(tmp_path) == []
    with h5py.File(paths[2], "a") as handle:       # a shard that claims more rows than it has
        handle.attrs["stop"] = int(handle.attrs["stop"]) + 1
    with pytest.raises(ValueError, match="incomplete"):
        shards.merge(target, paths)
    plain = tmp_path / "plain.h5"
    generator.generate_to_file(plain, energies, seed=5)
    with pytest.raises(ValueError, match="not a calozoo shard"):
        shards.merge(target, [plain])
    with pytest.raises(ValueError, match="needs a seed"):
        generator.generate_to_file(tmp_path / "x.h5", energies, shard=(0, 2))
    assert not target.exists() and _leftovers(tmp_path) == []


def test_cli_shards_and_merge(tmp_path):
    run = {"capture_output": True, "text": True, "timeout": 300, "cwd": tmp_path}
    base = [sys.executable, "-m", "calozoo", "generate", "conv3d", "-n", "5", "--energies",
            "100:500", "--seed", "3", "-q"]
    for index in range(2):
        result = subprocess.run([*base, "--shard", f"{index}/2", "-o", f"out-{index}.h5"], **run)
        assert result.returncode == 0, result.stderr
    assert subprocess.run([*base, "-o", "whole.h5"], **run).returncode == 0
    merged = subprocess.run([sys.executable, "-m", "calozoo", "merge", "merged.h5", "out-1.h5",
                             "out-0.h5"], **run)
    assert merged.returncode == 0, merged.stderr
    whole, found = _contents(tmp_path / "whole.h5"), _contents(tmp_path / "merged.h5")
    for name in whole:
        np.testing.assert_array_equal(found[name], whole[name])
    bad = subprocess.run([sys.executable, "-m", "calozoo", "merge", "m.h5", "out-0.h5"], **run)
    assert bad.returncode == 2 and "missing" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "m.h5").exists()
    unseeded = subprocess.run([*base[:-3], "-q", "--shard", "0/2", "-o", "u.h5"], **run)
    assert unseeded.returncode == 2 and "--seed" in unseeded.stderr
    half = subprocess.run([*base, "--output-dtype", "float16", "--format", "calochallenge",
                           "-o", "h.h5"], **run)
    assert half.returncode == 2 and "float16" in half.stderr and not (tmp_path / "h.h5").exists()


def test_slurm_example_runs_one_shard_per_array_task():
    commands = []
    for task in range(4):
        env = {**os.environ, "SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_COUNT": "4",
               "DRY_RUN": "1", "OUT": "/tmp/calozoo-dry-run"}
        result = subprocess.run(["bash", str(EXAMPLES / "slurm_generate.sh")], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        commands.append(shlex.split(result.stdout))
    for task, command in enumerate(commands):
        assert command[:3] == ["calozoo", "generate", "conv3d"]
        assert command[command.index("--shard") + 1] == f"{task}/4"
        assert command[command.index("-o") + 1] == f"/tmp/calozoo-dry-run/out-{task}.h5"
        assert command[command.index("--seed") + 1] == "1"
    result = subprocess.run(["bash", str(EXAMPLES / "slurm_generate.sh")],
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("SLURM_")}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "job array" in result.stderr


def test_htcondor_example_runs_one_shard_per_job():
    text = (EXAMPLES / "htcondor_generate.sub").read_text()
    settings = dict(re.findall(r"^(\w+)\s*=\s*(.+)$", text, re.MULTILINE))
    jobs = int(re.search(r"^queue\s+(\d+)\s*$", text, re.MULTILINE).group(1))
    assert settings["executable"] == "/usr/bin/env"
    commands = [shlex.split(settings["arguments"].replace("$(Process)", str(process)))
                for process in range(jobs)]
    for process, command in enumerate(commands):
        assert command[:2] == ["calozoo", "generate"]
        assert command[command.index("--shard") + 1] == f"{process}/{jobs}"
        assert command[command.index("-o") + 1] == f"shards/out-{process}.h5"
    # the arguments are ones calozoo's parser accepts
    from calozoo.cli import build_parser

    build_parser().parse_args(commands[0][1:])
