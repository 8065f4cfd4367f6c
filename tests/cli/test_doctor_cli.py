"""``ravine doctor LOG``: exit codes 0 (nothing wrong), 1 (warnings or errors), 2 (bad input, one line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ravine.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
STEPS = np.arange(300)
FALLING = 0.1 + 2.2 * np.exp(-STEPS / 40) * np.exp(np.random.default_rng(1).normal(scale=0.1, size=300))


def csv(path: Path, values: np.ndarray) -> Path:
    path.write_text("step,loss\n" + "\n".join(f"{s},{v}" for s, v in zip(STEPS, values, strict=True)) + "\n")
    return path


@pytest.fixture
def healthy(tmp_path: Path) -> Path:
    return csv(tmp_path / "healthy.csv", FALLING)


@pytest.fixture
def diverged(tmp_path: Path) -> Path:
    return csv(tmp_path / "diverged.csv", np.where(STEPS < 200, FALLING, np.nan))


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["doctor", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_healthy_log_exits_0(healthy: Path) -> None:
    code, out, _ = invoke(str(healthy))
    assert code == 0 and "no problems found" in out


def test_findings_exit_1_and_write_json_and_a_plot(diverged: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(str(diverged), "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"))
    assert code == 1 and "divergence" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(data) >= {"findings", "skipped"}
    assert set(data["findings"][0]) >= {"kind", "severity", "first_step", "last_step", "evidence", "advice"}
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "no such log"),
        (lambda p: (p / "a.bin").write_bytes(bytes(range(200))) and p / "a.bin", "unknown log format"),
        (lambda p: (p / "acc.csv").write_text("step,acc\n0,0.1\n") and p / "acc.csv", "no training loss"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path: Path, make, message: str) -> None:
    code, out, err = invoke(str(make(tmp_path)))
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out


def test_python_dash_m_ravine_is_the_same_command(diverged: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "ravine", "doctor", str(diverged)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1 and "divergence" in done.stdout
