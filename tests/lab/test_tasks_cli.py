"""``compare_task.run`` end to end on the real data (the CI-sized comparison; ``--full`` runs it larger), its
outputs and resume, bad input as one line with a non-zero exit, and the figures drawn from the results."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from ravine.cli.compare_task import run
from ravine.report import task_plots


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200, color_system=None), buf


@pytest.fixture(scope="module")
def quick(shared_data: Path, full: bool, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A quick mnist-logreg comparison through ``run`` (and imdb-logreg with ``--full``)."""
    out = tmp_path_factory.mktemp("compare")
    results = {}
    tasks = ["mnist-logreg", "imdb-logreg"] if full else ["mnist-logreg"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAVINE_CACHE", str(tmp_path_factory.getbasetemp() / "ravine-cache"))
        for task in tasks:
            console, buf = _console()
            kwargs = {
                "optimizers": ("nesterov", "adam"),
                "epochs": 3 if full else 1,
                "seeds": 2,
                "batch_size": 64,
                "lr_grid": (0.01, 0.1, 30.0),
                "data_dir": shared_data,
                "out": out / task,
                "subset": 5000 if full else 800,
            }
            code = run(task, workers=2, console=console, **kwargs)
            results[task] = {"code": code, "out": out / task, "text": buf.getvalue(), "kwargs": kwargs}
    return results


def test_quick_comparison_end_to_end(quick: dict) -> None:
    for task, r in quick.items():
        assert r["code"] == 0, r["text"]
        res = json.loads((r["out"] / "results.json").read_text())
        assert res["complete"] and res["task"]["name"] == task
        assert res["protocol"]["batch_size"] == 64 and res["environment"]["workers"] == 2
        assert len((r["out"] / "runs.jsonl").read_text().splitlines()) == len(res["runs"]) == 14
        for name in ("learning_curves.png", "lr_sensitivity.png"):
            with Image.open(r["out"] / name) as im:
                assert im.format == "PNG" and im.width > 500
        ranked = [row["optimizer"] for row in res["summary"]]
        text = r["text"]
        table = text[text.rindex(f"{task}: ") :]  # the ranked table follows the per-run progress lines
        assert table.index(ranked[0]) < table.index(ranked[1])  # the table is in rank order
        assert "div." in text
        assert text.count("seed") >= len(res["runs"])  # outside a terminal: one line per finished run
        nesterov = next(row for row in res["summary"] if row["optimizer"] == "nesterov")
        assert nesterov["grid"][-1]["diverged"]  # lr 30 on logistic regression


def test_rerun_resumes_from_the_stored_runs(quick: dict) -> None:
    r = quick["mnist-logreg"]
    before = json.loads((r["out"] / "results.json").read_text())
    console, buf = _console()
    code = run("mnist-logreg", workers=1, console=console, **r["kwargs"])
    assert code == 0 and "resuming: 14 finished runs" in buf.getvalue()
    after = json.loads((r["out"] / "results.json").read_text())
    assert after["summary"] == before["summary"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "cifar-resnet"}, "unknown task 'cifar-resnet'; known: mnist-logreg"),
        ({"optimizers": ("adam", "lionn")}, "unknown optimizer 'lionn'"),
        ({"optimizers": ()}, "optimizers must be a non-empty sequence of names"),
        ({"lr_grid": (1e-3, 0.0)}, "learning rates in lr_grid must be finite and > 0, got 0.0"),
        ({"lr_grid": (1e-3, -0.1)}, "learning rates in lr_grid must be finite and > 0, got -0.1"),
        ({"lr_grid": (float("inf"),)}, "finite and > 0"),
        ({"data_dir": "/no/such/dir"}, "data_dir /no/such/dir does not exist"),
        ({"batch_size": "half"}, "batch_size must be an integer >= 1 or 'full', got 'half'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1 or 'full', got 0"),
        ({"epochs": 0}, "epochs must be an integer >= 1, got 0"),
        ({"seeds": "two"}, "seeds must be an integer >= 1, got 'two'"),
        ({"workers": 0}, "workers must be an integer >= 1, got 0"),
        ({"schedule": "warp"}, "unknown schedule 'warp'"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, kwargs: dict, message: str) -> None:
    console, buf = _console()
    args = {"task": "quadratic-deep", "optimizers": ("adam",), "out": tmp_path / "o", "console": console, **kwargs}
    code = run(args.pop("task"), **args)
    text = buf.getvalue()
    assert code == 2
    assert text.count("\n") == 1 and text.startswith("error: ") and message in text
    assert not (tmp_path / "o").exists()


def test_missing_data_is_one_clear_line(tmp_path: Path) -> None:
    console, buf = _console()
    code = run("mnist-logreg", optimizers=("adam",), data_dir=tmp_path, out=tmp_path / "o", console=console)
    text = buf.getvalue()
    assert code == 1 and text.count("\n") == 1
    assert "MNIST not found" in text and "python -m ravine.lab.data download mnist" in text


def test_a_failing_run_is_one_line_with_the_traceback_in_a_file(tmp_path: Path) -> None:
    console, buf = _console()
    code = run("quadratic-deep", optimizers=("torch.LBFGS",), lr_grid=(0.1,), epochs=1, out=tmp_path, console=console)
    text = buf.getvalue()
    assert code == 1 and text.startswith("error: ") and text.count("\n") == 1
    assert "torch.LBFGS lr=0.1 seed 0 failed: TypeError" in text
    assert "Traceback" in (tmp_path / "error.log").read_text()


def test_through_the_command_line(tmp_path: Path) -> None:
    """``ravine compare TASK`` parses its options into typed values and hands them to ``run``."""
    from ravine.cli.app import app

    runner = CliRunner()
    args = ["compare", "quadratic-deep", "-o", "sgd,adam", "--epochs", "1", "--seeds", "1", "--batch-size", "full"]
    ok = runner.invoke(app, [*args, "--lr-grid", "0.001,0.01", "--out", str(tmp_path / "o")], env={"COLUMNS": "200"})
    assert ok.exit_code == 0, ok.output
    assert "quadratic-deep" in ok.output and (tmp_path / "o" / "results.json").is_file()
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["protocol"]["batch_size"] == "full" and all(r["steps"] == 1 for r in res["runs"])
    bad = runner.invoke(app, [*args, "--lr-grid", "0.01,-1"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.stderr.strip() == (
        "error: Invalid value for '--lr-grid': must list finite numbers > 0, got '-1' in '0.01,-1' "
        "(see ravine compare --help)"
    )


def test_figures_show_every_optimiser_with_bands_and_marks(quick: dict) -> None:
    res = json.loads((quick["mnist-logreg"]["out"] / "results.json").read_text())
    n = len(res["summary"])
    fig = task_plots.learning_curves(res)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(labels) == sorted(
        f"{row['optimizer']} lr={row[part]['lr']:g}" + (" (default)" if part == "default" else "")
        for row in res["summary"]
        for part in ("tuned", "default")
    )
    for ax in fig.axes:
        assert len(ax.collections) == n  # one seed band per optimiser (2 seeds each)
    assert fig.axes[0].get_yscale() == "log"
    sens = task_plots.lr_sensitivity(res)
    ax = sens.axes[0]
    assert ax.get_xscale() == "log"
    markers = [line.get_marker() for line in ax.lines]
    assert markers.count("x") == sum(any(g["diverged"] for g in row["grid"]) for row in res["summary"])
    assert markers.count("^") == n  # the default rate of each optimiser
