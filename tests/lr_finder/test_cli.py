"""``ravine find-lr TASK`` and ``ravine compare TASK --lr find`` through typer's CliRunner: outputs, the
results document, and bad input as one line with exit status 2 (no traceback)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from ravine.cli.app import app
from ravine.lab.tasks import TASKS
from ravine.lab.tasks.base import Arrays, TaskData

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "150"})


def test_find_lr_writes_results_table_and_figure(tmp_path: Path) -> None:
    res = invoke("find-lr", "quadratic-deep", "-o", "momentum,adam", "--steps", "60", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["format"] == "ravine.lr-finder/1" and set(doc["results"]) == {"momentum", "adam"}
    assert doc["settings"]["sweep"]["steps"] == 60 and doc["results"]["adam"]["family"] == "rms"
    assert doc["figures"][0]["file"] == "lr_finder.png" and doc["tables"][0]["columns"][0] == "optimizer"
    assert set(doc["outputs"]) == {"lr_finder.png", "lr_finder.jsonl"}
    with Image.open(tmp_path / "lr_finder.png") as im:
        assert im.format == "PNG" and im.width > 800
    for word in ("calibrated (default)", "valley", "edge", "momentum", "adam"):
        assert word in res.stdout
    lr = doc["results"]["adam"]["lr"]
    assert f"{lr:.3g}" in res.stdout


def test_find_lr_bad_input_is_one_line() -> None:
    cases = [
        (["find-lr", "quadratic-deep", "-o", "lbfgs"], "lbfgs: L-BFGS needs a closure"),
        (["find-lr", "quadratic-deep", "--start", "1", "--end", "0.1"], "--start must be < end"),
        (["find-lr", "quadratic-deep", "--smooth", "1"], r"--smooth must be a number in [0, 1)"),
        (["find-lr", "quadratic-deep", "--steps", "1"], "Invalid value for '--steps'"),
        (["find-lr", "quadratic-deep", "--stop-factor", "1"], "--stop-factor must be a finite number > 1"),
        (["find-lr", "quadratic-deep", "--stop-factor", "inf"], "--stop-factor must be a finite number > 1"),
        (["find-lr", "no-such-task"], "unknown task 'no-such-task'"),
        (["find-lr", "quadratic-deep", "-o", "adam,nope"], "unknown optimizer 'nope'"),
    ]
    for args, message in cases:
        res = invoke(*args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and "Traceback" not in res.output, (args, res.output)


def test_find_lr_nan_loss_and_no_batches_are_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the catalogue's tasks always give batches and a finite first loss, so the library's two refusals are
    # reached on the command line through a task whose model is NaN and one whose training split is empty
    task = TASKS["quadratic-deep"]

    def nan_model() -> torch.nn.Module:
        model = task.model()
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(math.nan)
        return model

    def no_train(data_dir: object) -> TaskData:
        data = task.load(data_dir)
        return TaskData(Arrays(data.train.x[:0], None if data.train.y is None else data.train.y[:0]), data.val,
                        data.test)  # fmt: skip

    for broken, message in ((replace(task, model=nan_model), "the loss is nan at the first step (lr=1e-07)"),
                            (replace(task, load=no_train), "batches is empty")):  # fmt: skip
        monkeypatch.setitem(TASKS, "quadratic-deep", broken)
        res = invoke("find-lr", "quadratic-deep", "-o", "momentum", "--out", str(tmp_path))
        assert res.exit_code == 2, res.output
        assert message in res.output and "Traceback" not in res.output, res.output
        assert res.output.strip().splitlines() == [res.output.strip()], res.output  # one line


def test_compare_task_with_lr_find(tmp_path: Path) -> None:
    res = invoke("compare", "quadratic-deep", "--lr", "find", "-o", "sgd", "--epochs", "1", "--seeds", "1",
                 "--out", str(tmp_path))  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["protocol"]["tuning"] == "find" and doc["summary"][0]["chosen_lr"] == doc["lr_finder"]["sgd"]["lr"]
    assert "lr_finder.png" in doc["outputs"] and (tmp_path / "lr_finder.png").is_file()
    bad = invoke("compare", "bowl", "--lr", "find")
    assert bad.exit_code == 2 and "--lr find applies to tasks, not to landscapes" in bad.output


def test_compare_lr_find_lists_its_figure_for_the_report(tmp_path: Path) -> None:
    res = invoke("compare", "quadratic-deep", "--lr", "find", "-o", "adam", "--epochs", "1", "--seeds", "1",
                 "--out", str(tmp_path))  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert (
        doc["figures"][0]["file"] == "lr_finder.png"
        and f"adam {doc['lr_finder']['adam']['lr']:.3g}" in (doc["figures"][0]["caption"])
    )
