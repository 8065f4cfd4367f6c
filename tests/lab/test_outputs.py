"""A rerun into the same output directory leaves no figure of an earlier run beside the new results.json, and
removes nothing it did not write itself."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ravine.cli.app import app
from ravine.lab import outputs

runner = CliRunner()


def _compare(*args: str) -> None:
    res = runner.invoke(app, ["compare", *args, "--steps", "20", "--no-gif"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output


def test_a_second_comparison_removes_the_first_ones_figures(tmp_path: Path) -> None:
    _compare("bowl", "-o", "sgd", "--lr", "0.1,0.5", "--out", str(tmp_path))
    first = {p.name for p in tmp_path.iterdir()}
    assert {"bowl-paths.png", "bowl-lr-effects-sgd.png"} <= first
    (tmp_path / "notes.txt").write_text("mine")
    _compare("booth", "-o", "adam", "--lr", "0.1", "--out", str(tmp_path))
    doc = json.loads((tmp_path / "results.json").read_text())
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"results.json", "notes.txt", *doc["outputs"]}
    assert not any(n.startswith("bowl") for n in names)
    assert all((tmp_path / n).is_file() for n in doc["outputs"])


def test_a_results_file_from_before_the_list_is_read_for_its_landscapes(tmp_path: Path) -> None:
    legacy = {"settings": {"landscapes": ["ravine:kappa=1000"]}, "landscapes": [], "overall": [], "records": []}
    (tmp_path / "results.json").write_text(json.dumps(legacy))
    for name in ("ravine-kappa1000-paths.png", "ravine-kappa1000-lr-effects-adam.png", "trajectories.npz",
                 "ravine-notes.png", "rosenbrock-paths.png"):  # fmt: skip
        (tmp_path / name).write_bytes(b"x")
    before = outputs.previous(tmp_path)
    removed = outputs.remove_stale(tmp_path, before, ["trajectories.npz"])
    assert removed == ["ravine-kappa1000-lr-effects-adam.png", "ravine-kappa1000-paths.png"]
    assert {p.name for p in tmp_path.iterdir()} == {
        "results.json", "trajectories.npz", "ravine-notes.png", "rosenbrock-paths.png"
    }  # fmt: skip


def test_names_outside_the_directory_are_never_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "precious.png"
    victim.write_bytes(b"x")
    (out / "results.json").write_text(json.dumps({"outputs": ["../precious.png", str(victim), "results.json"]}))
    assert outputs.remove_stale(out, outputs.previous(out), []) == []
    assert victim.exists() and (out / "results.json").exists()


def test_a_task_comparison_replaces_a_landscape_ones_figures(tmp_path: Path) -> None:
    from ravine.cli import compare_task

    _compare("bowl", "-o", "sgd", "--lr", "0.1", "--out", str(tmp_path))
    results = json.loads((tmp_path / "results.json").read_text())
    assert any(n.startswith("bowl") for n in results["outputs"])
    task_results = _tiny_task_results(tmp_path / "task")
    compare_task.write(task_results, tmp_path)
    names = {p.name for p in tmp_path.iterdir()} - {"task"}
    assert names == {"results.json", "learning_curves.png", "lr_sensitivity.png"}


def _tiny_task_results(out: Path) -> dict:
    from ravine.cli import compare_task

    code = compare_task.run("quadratic-deep", optimizers=("sgd",), lr_grid=(0.01,), seeds=1, epochs=1, out=out)
    assert code == 0
    return json.loads((out / "results.json").read_text())
