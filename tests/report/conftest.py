"""Real result directories for the report's tests, made by the lab and the doctor themselves (small sizes):

* ``landscapes``: bowl and saddle, three optimisers, tuned, with every figure and animation (as ``ravine compare``
  writes them), and the LandscapeResult objects the terminal tables are drawn from;
* ``given``: bowl with four given learning rates (the learning-rate-effects figure);
* ``quadratic``: the quadratic-deep task (loss-judged), a grid with a diverging rate, two seeds;
* ``mnist``: mnist-logreg on 800 examples (accuracy-judged; needs the shared data);
* ``doctor``: a diverging run's doctor log with the report of ``ravine doctor LOG --json``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from rich.console import Console

import ravine
from ravine.report.html.markup import slug


@dataclass
class Landscapes:
    path: Path
    results: list[Any]


def _quiet() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


def write_landscapes(out: Path, names: list[str], optimizers: list[str], lrs: list[float] | None, gif: bool) -> list:
    """What ``ravine compare`` does for landscapes, through the same library calls."""
    from ravine.lab import landscapes, suite, tuning
    from ravine.report import landscape_report

    results = [suite.compare(landscapes.get(n), optimizers, lrs=lrs) for n in names]
    settings = {
        "ravine": ravine.__version__,
        "torch": torch.__version__,
        "landscapes": names,
        "optimizers": optimizers,
        "steps": None,
        "starts": None,
        "lr": "auto" if lrs is None else lrs,
        "lr_grid": list(tuning.DEFAULT_GRID),
        "noise": 0.0,
        "seed": 0,
        "overrides": {},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(suite.to_json(results, settings), allow_nan=False))
    landscape_report.write_figures(results, out, gif=gif)
    return results


@pytest.fixture(scope="session")
def landscapes(tmp_path_factory: pytest.TempPathFactory) -> Landscapes:
    out = tmp_path_factory.mktemp("landscapes")
    return Landscapes(out, write_landscapes(out, ["bowl", "saddle"], ["sgd", "momentum", "adam"], None, gif=True))


@pytest.fixture(scope="session")
def given(tmp_path_factory: pytest.TempPathFactory) -> Landscapes:
    out = tmp_path_factory.mktemp("given")
    return Landscapes(out, write_landscapes(out, ["bowl"], ["sgd"], [0.01, 0.5, 1.5, 2.1], gif=False))


def _task(out: Path, task: str, **kwargs: Any) -> Path:
    from ravine.cli.compare_task import run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAVINE_CACHE", str(out.parent / "ravine-cache"))
        code = run(task, workers=1, out=out, console=_quiet(), **kwargs)
    assert code == 0, f"the {task} comparison failed (exit {code})"
    return out


@pytest.fixture(scope="session")
def quadratic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quadratic") / "out"
    return _task(out, "quadratic-deep", optimizers=["sgd", "adam"], epochs=1, seeds=2, lr_grid=[0.01, 0.1, 30.0])


@pytest.fixture(scope="session")
def mnist(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    out = tmp_path_factory.mktemp("mnist") / "out"
    return _task(
        out, "mnist-logreg", optimizers=["nesterov", "adam"], epochs=1, seeds=2, lr_grid=[0.01, 0.1],
        data_dir=shared_data, subset=800,
    )  # fmt: skip


def doctor_log(path: Path, lr: float, steps: int = 300) -> Path:
    """A small regression trained by SGD at ``lr``, watched by the doctor, which writes its JSONL log."""
    from ravine.diagnose import Doctor

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x = torch.randn(512, 10)
    y = x @ torch.randn(10, 1)
    with Doctor(model, opt, echo=False, log=path) as doctor:
        for _ in range(steps):
            i = torch.randint(0, 512, (32,))
            opt.zero_grad()
            loss = (model(x[i]) - y[i]).pow(2).mean()
            loss.backward()
            doctor.after_backward(loss)
            opt.step()
            doctor.after_step()
    return path


@pytest.fixture(scope="session")
def doctor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a diverging run's log and the doctor's report of it (``ravine doctor LOG --json``)."""
    from ravine.diagnose.logs import diagnose_log

    out = tmp_path_factory.mktemp("doctor")
    log = doctor_log(out / "run.jsonl", lr=0.25)
    report = diagnose_log(log).to_json()
    assert report["findings"], "the diverging run should give the doctor something to report"
    (out / "doctor.json").write_text(json.dumps(report, indent=2))
    return out


def expected_sections(path: Path) -> list[str]:
    """The section ids a page must have, from results.json alone (computed apart from the builders)."""
    doc = json.loads((path / "results.json").read_text())
    if doc.get("format") == "ravine.task-comparison/1":
        base = slug(doc["task"]["name"])
        return [f"{base}-{p}" for p in ("ranking", "curves", "lr", "speed", "doctor", "protocol", "png")]
    ids = ["landscape-" + slug(land["name"]) for land in doc["landscapes"]] + ["landscape-settings"]
    return (["overall"] if len(doc["landscapes"]) > 1 else []) + ids


@pytest.fixture(scope="session")
def sections_of():
    """:func:`expected_sections`, for the tests."""
    return expected_sections
