"""The command line: list, info, and one-line errors with exit code 2."""

import subprocess
import sys

import calozoo


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "calozoo", *args], capture_output=True,
                          text=True, timeout=120)


def test_list_prints_the_table():
    result = run_cli("list")
    assert result.returncode == 0, result.stderr
    header, rule, *rows = result.stdout.strip().splitlines()
    assert header.split()[:2] == ["name", "grid"]
    assert set(rule) <= {"-", " "}
    assert [row.split()[0] for row in rows] == calozoo.list_models()
    g1 = next(row for row in rows if row.startswith("g1-3branch"))
    assert "25×25×25" in g1 and "2,055,324" in g1 and "714,114" in g1


def test_list_with_a_pattern():
    result = run_cli("list", "g*")
    assert [row.split()[0] for row in result.stdout.strip().splitlines()[2:]] == [
        "g1-3branch", "g2-25branch", "g3-1branch"]


def test_info_shows_the_model():
    result = run_cli("info", "3dgan-angle")
    assert result.returncode == 0, result.stderr
    assert "51 × 51 × 25" in result.stdout
    assert "1,365,047" in result.stdout
    assert "angle [deg]" in result.stdout
    assert "Khattak" in result.stdout


def test_unknown_model_is_one_line_and_exit_2():
    result = run_cli("info", "g1")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown model 'g1'" in lines[0] and "g1-3branch" in lines[0]
    assert "Traceback" not in result.stderr


def test_usage_error_exits_2():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_simulate_writes_a_readable_file(tmp_path):
    from calozoo import data

    target = tmp_path / "ref.h5"
    result = run_cli("simulate", "-n", "12", "--energies", "2:500", "--seed", "1", "-o",
                     str(target))
    assert result.returncode == 0, result.stderr
    assert "simulate" in result.stderr          # the progress bar
    showers = data.load(target)
    assert len(showers) == 12 and showers.shape == (25, 25, 25)
    assert showers.energies.min() >= 2 and showers.energies.max() <= 500
    again = tmp_path / "again.h5"
    run_cli("simulate", "-n", "12", "--energies", "2:500", "--seed", "1", "-o", str(again), "-q")
    import numpy as np
    np.testing.assert_array_equal(data.load(again).images, showers.images)


def test_simulate_with_angles(tmp_path):
    from calozoo import data

    target = tmp_path / "angles.h5"
    result = run_cli("simulate", "-n", "4", "--energies", "50", "--angles", "60:120",
                     "--geometry", "51x51x25", "--particle", "photon", "--seed", "3", "-o",
                     str(target), "-q")
    assert result.returncode == 0, result.stderr
    showers = data.load(target)
    assert showers.shape == (51, 51, 25)
    assert ((showers.angles >= 60) & (showers.angles <= 120)).all()


def test_simulate_failure_leaves_no_file(tmp_path):
    target = tmp_path / "bad.h5"
    result = run_cli("simulate", "-n", "4", "--energies", "50", "--angles", "60", "-o",
                     str(target), "-q")
    assert result.returncode == 2
    assert "51x51x25" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
    result = run_cli("simulate", "-n", "4", "--energies", "0:5", "-o", str(target), "-q")
    assert result.returncode == 2 and "> 0 GeV" in result.stderr


def test_convert_root(tmp_path):
    uproot = __import__("pytest").importorskip("uproot")
    import numpy as np
    from calozoo import data

    cells = np.random.default_rng(0).uniform(0, 1, (7, 25 * 25 * 25)).astype("f4")
    with uproot.recreate(tmp_path / "g4.root") as handle:
        handle["events"] = {"edep": cells * 1000, "Ekin": np.linspace(10e3, 70e3, 7),
                            "theta": np.full(7, 1.2)}
    target = tmp_path / "g4.h5"
    result = run_cli("convert", str(tmp_path / "g4.root"), str(target), "--tree", "events",
                     "--branch-map", "ecal=edep,energy=Ekin,angle=theta", "--geometry",
                     "25x25x25", "--energy-unit", "MeV", "-q")
    assert result.returncode == 0, result.stderr
    showers = data.load(target)
    np.testing.assert_allclose(showers.images, cells.reshape(7, 25, 25, 25), rtol=1e-6)
    np.testing.assert_allclose(showers.energies, np.linspace(10, 70, 7))
    np.testing.assert_allclose(showers.angles, np.degrees(1.2))
    bad = run_cli("convert", str(tmp_path / "g4.root"), str(tmp_path / "x.h5"), "--tree",
                  "events", "--branch-map", "ecal=ECAL,energy=Ekin", "-q")
    assert bad.returncode == 2 and "no branches ['ECAL']" in bad.stderr
    assert not (tmp_path / "x.h5").exists()
