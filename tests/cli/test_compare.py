"""``ravine compare`` end to end on tiny budgets, bad input, and the hand-off to the task lab."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ravine.cli import compare_args
from ravine.cli.app import app
from ravine.lab import landscapes as L

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["compare", *args], env={"COLUMNS": "120"})


def test_default_suite_on_a_tiny_budget(tmp_path: Path) -> None:
    """The README's first command, shortened: every default landscape, table, results.json and figures."""
    res = invoke("--steps", "8", "--lr-grid", "0.01,0.1", "-o", "sgd,adam", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    names = [land["name"] for land in doc["landscapes"]]
    assert names == list(L.DEFAULT_SUITE)
    # one record per (landscape, optimiser, tuned/default, start)
    expected = sum(2 * 2 * len(L.get(n).x0) for n in names)
    assert len(doc["records"]) == expected
    rec = doc["records"][0]
    assert {"lr", "tuned", "hyperparameters", "final_value", "distance", "steps_to_target", "diverged", "minimum",
            "effect", "start"} <= set(rec)  # fmt: skip
    assert rec["hyperparameters"]["lr"] == rec["lr"]
    for n in names:
        for kind in ("paths.png", "loss.png", "paths.gif"):
            Image.open(tmp_path / f"{n}-{kind}").verify()
    Image.open(tmp_path / "overview.png").verify()
    arrays = np.load(tmp_path / "trajectories.npz")
    assert arrays[f"path_{len(doc['records']) - 1}"].shape == (9, 2)
    for n in ("Convex bowl", "Rosenbrock", "Overall", "sgd", "adam"):
        assert n in res.stdout


def test_one_landscape_with_given_learning_rates_draws_the_effects(tmp_path: Path) -> None:
    res = invoke("bowl", "-o", "sgd", "--lr", "0.01,0.5,1.5,2.1", "--steps", "40", "--no-gif", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    effects = {r["lr"]: r["effect"] for r in json.loads((tmp_path / "results.json").read_text())["records"]
               if r["start_index"] == 0}  # fmt: skip
    assert effects == {0.01: "too small", 0.5: "right", 1.5: "oscillating", 2.1: "diverging"}
    assert Image.open(tmp_path / "bowl-lr-effects-sgd.png").size[0] > 0
    assert not (tmp_path / "bowl-paths.gif").exists()


def test_the_rest_of_torch_optim_runs_on_a_landscape(tmp_path: Path) -> None:
    own = {"adamax": "betas", "radam": "decoupled_weight_decay", "asgd": "lambd", "rprop": "etas",
           "adafactor": "beta2_decay"}  # fmt: skip
    res = invoke("rosenbrock", "-o", ",".join(own), "--lr", "1e-3", "--steps", "20", "--no-gif", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert sorted({r["optimizer"] for r in records}) == sorted(own)
    for r in records:
        assert own[r["optimizer"]] in r["hyperparameters"] and not r["diverged"] and r["gap"] < 30


def test_overrides_noise_and_start_reach_the_records(tmp_path: Path) -> None:
    res = invoke("saddle", "-o", "momentum,torch.Adam", "--lr", "0.1", "--steps", "30", "--noise", "0.01",
                 "--seed", "3", "--start", "1.5,0", "--set", "momentum.momentum=0.5",
                 "--set", "torch.Adam.betas=0.8,0.99", "--out", str(tmp_path), "--no-gif")  # fmt: skip
    assert res.exit_code == 0, res.output
    recs = json.loads((tmp_path / "results.json").read_text())["records"]
    by = {r["optimizer"]: r for r in recs}
    assert by["momentum"]["hyperparameters"]["momentum"] == 0.5
    assert by["torch.Adam"]["hyperparameters"]["betas"] == [0.8, 0.99]
    assert all(r["start"] == [1.5, 0.0] and r["noise"] == 0.01 and r["seed"] == 3 for r in recs)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nowhere"], "unknown landscape or task 'nowhere'; landscapes: bowl, ravine"),
     (["bowl", "-o", "sgd,nope"], "unknown optimizer 'nope'; known: sgd"),
     (["bowl", "--start", "5,0"], "start is outside the domain of bowl: x1=5 not in [-2, 2]"),
     (["bowl", "--start", "1,2,3"], "start must have 2 coordinates"),
     (["bowl", "--steps", "0"], "Invalid value for '--steps': Input should be greater than or equal to 1"),
     (["bowl", "--steps", "-3"], "'--steps': Input should be greater than or equal to 1"),
     (["bowl", "--steps", "ten"], "'--steps': Input should be a valid integer"),
     (["bowl", "--lr", "0.1,,1"], "'--lr': must be a comma-separated list of numbers"),
     (["bowl", "--lr", "0.1,x"], "'--lr': must be a comma-separated list of numbers, got 'x'"),
     (["bowl", "--lr", "0,1"], "'--lr': must list finite numbers > 0"),
     (["bowl", "--lr-grid", "1:0.1"], "'--lr-grid': needs LOW <= HIGH"),
     (["bowl", "--noise", "-1"], "'--noise': Input should be greater than or equal to 0"),
     (["bowl", "--set", "adam.betas"], "'--set': must look like OPTIMIZER.KEY=VALUE"),
     (["bowl", "-o", "adam", "--set", "adam.gamma=1"], "has no hyperparameter 'gamma'"),
     (["bowl", "-o", "adam", "--set", "adam.betas=2,0.9", "--steps", "2"], "betas[0] must be in [0, 1)"),
     (["bowl", "--epochs", "3"], "--epochs applies to tasks, not to landscapes"),
     (["--start", "1,1"], "--start needs a single landscape"),
     (["ravine:kappa=0.5"], "kappa must be > 1"),
     (["rosenbrock", "-o", "adam,muon"], "muon has nothing to act on in a landscape"),
     (["rosenbrock", "-o", "torch.Muon"], "torch.Muon has nothing to act on in a landscape"),
     (["bowl", "--bogus"], "No such option: --bogus"),
     (["mnist-logreg", "--batch-size", "half"], "'--batch-size': must be 'full' or an integer >= 1, got 'half'"),
     (["mnist-logreg", "--schedule", "warp"], "'--schedule': unknown schedule 'warp'"),
     (["mnist-logreg", "--data-dir", "/no/such/dir"], "'--data-dir': dir '/no/such/dir' does not exist")],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    res = invoke(*args, "--out", str(tmp_path))
    assert res.exit_code == 2
    assert message in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "results.json").exists()


def test_help_says_which_options_apply_where() -> None:
    res = invoke("--help")
    assert res.exit_code == 0
    for text in ("Landscapes only", "Tasks only", "Landscapes and tasks", "--set", "--batch-size", "--lr-grid"):
        assert text in res.stdout


def test_help_at_80_columns_names_every_target_and_wraps_evenly() -> None:
    """At 80 columns: every landscape and task is named, nothing is cut with an ellipsis, no <bool> placeholder,
    and prose paragraphs are filled to the width (no line far shorter than its neighbours mid-paragraph)."""
    from ravine.lab import landscapes, tasks

    res = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert res.exit_code == 0
    text = res.stdout
    flat = " ".join(text.split())
    for name in [*landscapes.names(), *tasks.TASKS]:
        assert name in flat, name
    assert "…" not in text and "<bool>" not in text
    assert "Usage: ravine compare [OPTIONS] [TARGET]" in text
    assert max(len(line) for line in text.splitlines()) <= 80
    prose = text.split("╭")[0].splitlines()
    for line, nxt in itertools.pairwise(prose):
        if line.strip() and nxt.strip() and not line.strip().startswith("Usage"):
            assert len(line.rstrip()) > 60, f"ragged line: {line!r}"


def test_doctor_usage_names_its_argument() -> None:
    res = runner.invoke(app, ["doctor", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert "Usage: ravine doctor [OPTIONS] LOG" in res.stdout and "{" not in res.stdout.splitlines()[1]


@pytest.fixture
def fake_task_lab(monkeypatch: pytest.MonkeyPatch) -> dict:
    """The real task lab with a toy task added and its runner replaced by a recorder of what it was called with."""
    from ravine.cli import compare_task
    from ravine.lab import tasks

    calls: dict = {}

    def run(task, **kwargs):
        calls["task"], calls["kwargs"] = task, kwargs
        return 0

    monkeypatch.setitem(tasks.TASKS, "toy", object())
    monkeypatch.setattr(compare_task, "run", run)
    calls["TASKS"] = tasks.TASKS
    return calls


def test_a_task_name_is_handed_to_the_task_lab(fake_task_lab: dict, tmp_path: Path) -> None:
    res = invoke("toy", "-o", "sgd,adam", "--epochs", "3", "--seeds", "2", "--batch-size", "full", "--lr-grid",
                 "0.01:1", "--schedule", "cosine", "--workers", "2", "--data-dir", str(tmp_path), "--out",
                 str(tmp_path / "o"))  # fmt: skip
    assert res.exit_code == 0, res.output
    kw = fake_task_lab["kwargs"]
    assert fake_task_lab["task"] == "toy"  # compare_task.run takes the task by name
    assert kw["optimizers"] == ("sgd", "adam") and kw["epochs"] == 3 and kw["seeds"] == 2
    assert kw["batch_size"] == "full" and kw["lr_grid"] == (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
    assert kw["schedule"] == "cosine" and kw["workers"] == 2 and kw["data_dir"] == tmp_path
    assert kw["out"] == tmp_path / "o" and kw["console"] is not None
    res = invoke("toy", "--batch-size", "32")
    assert res.exit_code == 0 and fake_task_lab["kwargs"]["batch_size"] == 32


def test_landscape_options_are_refused_for_a_task(fake_task_lab: dict) -> None:
    res = invoke("toy", "--steps", "10", "--noise", "0.1")
    assert res.exit_code == 2 and "--steps, --noise apply to landscapes, not to task 'toy'" in res.stderr
    res = invoke("nowhere")
    assert "tasks: mnist-logreg, " in res.stderr and res.stderr.rstrip().endswith("toy")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("adam.betas=0.9,0.99", {"adam": {"betas": (0.9, 0.99)}}), ("sgd.nesterov=true", {"sgd": {"nesterov": True}}),
     ("torch.Adam.eps=1e-6", {"torch.Adam": {"eps": 1e-6}}),
     ("lbfgs.line_search_fn=none", {"lbfgs": {"line_search_fn": None}}),
     ("lbfgs.line_search_fn=strong_wolfe", {"lbfgs": {"line_search_fn": "strong_wolfe"}})],
)  # fmt: skip
def test_set_values_are_python_literals(text: str, parsed: dict) -> None:
    assert compare_args.overrides([compare_args.override(text)]) == parsed
