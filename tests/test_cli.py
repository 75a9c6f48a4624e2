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
