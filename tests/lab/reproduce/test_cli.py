"""``ravine reproduce adam-2015 --quick`` end to end in a temporary directory: results.json in the format the
report reads, figures that decode, the verdict table, resume without rerunning, and bad arguments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from matplotlib import image
from typer.testing import CliRunner

from ravine.cli.app import app
from ravine.lab.reproduce import runner, verdicts
from ravine.lab.reproduce.spec import Settings, refined
from ravine.report.html import results as report_results


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, Path, str]:
    out = tmp_path_factory.mktemp("adam-quick")
    res = CliRunner().invoke(
        app, ["reproduce", "adam-2015", "--quick", "--out", str(out), "--data-dir", str(shared_data)]
    )
    assert res.exit_code == 0, res.output
    return out, shared_data, res.output


def test_results_json_is_a_reproduction_the_report_reads(quick: tuple[Path, Path, str]) -> None:
    out, _, _ = quick
    doc = json.loads((out / "results.json").read_text())
    assert doc["format"] == "ravine.reproduction/1"
    loaded = report_results.load(out)  # the report's own structure checks
    assert loaded.format == report_results.REPRODUCTION
    assert set(doc["experiments"]) == {"mnist-logreg", "imdb-logreg", "mnist-mlp", "fmnist-cnn"}
    assert doc["complete"] is True
    for exp in doc["experiments"].values():
        for o in exp["optimizers"].values():
            alphas = [g["alpha"] for g in o["grid"]]
            coarse = [a for a in alphas if a in (1e-3, 1e-2, 1e-1)]
            assert len(coarse) == 3
            if o["alpha"] is not None:  # the winner of the grid, refined by quarter decades on both sides
                winner = min((g for g in o["grid"] if not g["refined"] and g["final"] is not None),
                             key=lambda g: (g["final"], g["alpha"]))["alpha"]  # fmt: skip
                assert sorted(set(alphas) - set(coarse)) == list(refined(winner))
                assert o["alpha"] == min((g for g in o["grid"] if g["final"] is not None),
                                         key=lambda g: (g["final"], g["alpha"]))["alpha"]  # fmt: skip
            assert o["seeds"] == (2 if o["alpha"] is not None else 0)
    assert len(doc["study"]["cells"]) == 3 * 2 * 2  # beta2 x correction x quick alphas


def test_figures_decode(quick: tuple[Path, Path, str]) -> None:
    out, _, _ = quick
    doc = json.loads((out / "results.json").read_text())
    names = [f["file"] for f in doc["figures"]]
    assert names == ["figure1_logreg.png", "figure2_mlp.png", "figure3_cnn.png", "figure4_bias_correction.png"]
    for name in names:
        pixels = image.imread(out / name)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300


def test_verdict_table_is_present_and_printed(quick: tuple[Path, Path, str]) -> None:
    out, _, output = quick
    doc = json.loads((out / "results.json").read_text())
    table = doc["tables"][0]
    assert table["columns"] == verdicts.COLUMNS
    claims = [r[0] for r in table["rows"]]
    assert len(claims) == 10
    assert all(r[4] in ("holds", "FAILS", "n/a") for r in table["rows"])
    assert all(r[7] in ("holds", "fails", "-") for r in table["rows"])
    assert {v["claim"] for v in doc["verdicts"]} == set(claims)
    assert "Verdicts (--quick: not a result)" in output


def test_resume_runs_nothing_twice(quick: tuple[Path, Path, str]) -> None:
    out, data, _ = quick
    lines = (out / "runs.jsonl").read_text().splitlines()
    kinds: list[str] = []
    settings = Settings(quick=True, seeds=2, study_seeds=1, data_dir=str(data))
    runner.reproduce(settings, out, on_event=lambda e: kinds.append(e.kind))
    assert "finish" not in kinds and kinds.count("cached") == len(lines)
    assert (out / "runs.jsonl").read_text().splitlines() == lines


def test_report_renders_it(quick: tuple[Path, Path, str], tmp_path: Path) -> None:
    out, _, _ = quick
    page = tmp_path / "page.html"
    res = CliRunner().invoke(app, ["report", str(out), "--out", str(page)])
    assert res.exit_code == 0, res.output
    html = page.read_text()
    assert "Verdicts on the paper&#x27;s claims" in html or "Verdicts on the paper's claims" in html
    assert html.count("<img") >= 4


@pytest.mark.parametrize(
    "args,option",
    [
        (["--epochs", "0"], "--epochs"),
        (["--seeds", "1"], "--seeds"),
        (["--workers", "0"], "--workers"),
        (["--epochs", "ten"], "--epochs"),
    ],
)
def test_bad_arguments_name_the_option(args: list[str], option: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["reproduce", "adam-2015", "--out", str(tmp_path), *args])
    assert res.exit_code == 2
    assert option in res.output
    assert not (tmp_path / "runs.jsonl").exists()


def test_unknown_paper_is_refused(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["reproduce", "adam-2014", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "PAPER" in res.output and "adam-2015" in res.output


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"seeds": 1}, "seeds must be an integer >= 2"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"workers": True}, "workers must be an integer >= 1"),
        ({"study_seeds": 0}, "study_seeds must be an integer >= 1"),
    ],
)
def test_settings_name_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**kwargs)


def test_collapse_level_is_half_of_chance() -> None:
    from ravine.lab.reproduce import paper

    assert math.isclose(paper.COLLAPSE_LOSS, math.log(10) / 2)


def test_resume_reuses_seed_runs_a_tuning_unlocks(quick: tuple[Path, Path, str], tmp_path: Path) -> None:
    # Drop one tuning run: it runs again, and the seed runs it unlocks come from the log, not from new runs.
    out, data, _ = quick
    lines = (out / "runs.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    dropped = next(
        i for i, r in enumerate(records) if r["run"]["experiment"] == "mnist-logreg" and r["run"]["seed"] == 0
    )
    (tmp_path / "runs.jsonl").write_text("\n".join(line for i, line in enumerate(lines) if i != dropped) + "\n")
    finished: list[str] = []
    settings = Settings(quick=True, seeds=2, study_seeds=1, data_dir=str(data))
    runner.reproduce(
        settings, tmp_path, on_event=lambda e: finished.append(e.run.key()) if e.kind == "finish" else None
    )
    assert finished == [records[dropped]["key"]]
