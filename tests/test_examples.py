"""The examples run as a user would run them."""

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_quickstart_runs_with_the_shipped_weights():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--n", "16"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("conv3d (default) vs reference")
    assert "reference" in lines[1] and "generated" in lines[2]
    assert "ΣE/Ep" in lines[1]
    response = float(lines[2].split("ΣE/Ep =")[1].split()[0])
    assert 0.015 < response < 0.025    # a real-physics sampling fraction, ~2%


def test_quickstart_runs_untrained():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--n", "8", "--model", "g1-3branch",
         "--weights", "none"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("g1-3branch (random init) vs reference")


def test_finetune_example_runs():
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "finetune_new_detector.py"), "--model", "conv3d",
         "--showers", "32", "--epochs", "1", "--batch-size", "16", "--weights", "none"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("conv3d on pbwo4")
    assert any("response_mu90/ratio/all" in line and "before" in line and "after" in line
               for line in lines)
