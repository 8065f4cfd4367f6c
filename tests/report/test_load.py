"""Reading result directories: every kind is recognised, and a missing, empty, damaged or incomplete
results.json is one clear line and exit status 2 from ``ravine report``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ravine.cli.app import app
from ravine.report import html
from ravine.report.html import results as L


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_each_kind_is_recognised(landscapes, quadratic: Path, doctor: Path):
    assert html.load(landscapes.path).format == L.LANDSCAPES
    assert html.load(quadratic).format == L.TASK
    d = html.load(doctor)
    assert d.format == L.DOCTOR and len(d.runs) == 1
    run = d.runs[0]
    assert run.log_file == "run.jsonl" and run.report_file == "doctor.json" and run.report["findings"]
    steps, loss = run.series["loss"]
    assert len(steps) == len(loss) > 100


def test_a_landscape_file_without_format_is_still_read(landscapes, tmp_path: Path):
    """Files written before the landscape writer named its format are recognised by their keys."""
    doc = json.loads((landscapes.path / "results.json").read_text())
    assert doc.pop("format") == L.LANDSCAPES
    (tmp_path / "results.json").write_text(json.dumps(doc))
    assert html.load(tmp_path).format == L.LANDSCAPES


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.unlink(), "results.json: no such file, and no doctor log or report in"),
        (lambda p: p.write_text(""), "results.json is empty"),
        (lambda p: p.write_text(p.read_text()[:5000]), "results.json is damaged: not valid JSON"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "results.json is damaged: not UTF-8 text"),
        (lambda p: p.write_text("[1, 2]"), "results.json is damaged: it holds a list, not a JSON object"),
        (lambda p: p.write_text('{"format": "ravine.nope/9"}'), "has format 'ravine.nope/9', which ravine report"),
        (lambda p: p.write_text('{"hello": 1}'), 'has no "format" key, which ravine report does not read'),
        (
            lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "summary": [{"optimizer": "x"}]})),
            "is damaged or incomplete as ravine.task-comparison/1: summary[0] lacks 'rank'",
        ),
        (
            lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "protocol": {"seeds": "3"}})),
            "protocol lacks 'optimizers'",
        ),
    ],
)
def test_a_bad_results_json_is_one_line_and_exit_2(quadratic: Path, tmp_path: Path, damage, message: str):
    folder = _copy(quadratic, tmp_path / "copy")
    for extra in [*folder.glob("*.jsonl"), folder / "report.html"]:
        extra.unlink()  # runs.jsonl is not a doctor log, but keep the folder to what is under test
    damage(folder / "results.json")
    code, out, err = invoke(str(folder))
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("ravine report: "), err
    assert not (folder / "report.html").exists()


def test_a_wrong_type_names_the_field(quadratic: Path, tmp_path: Path):
    folder = _copy(quadratic, tmp_path / "copy")
    doc = json.loads((folder / "results.json").read_text())
    doc["summary"][1]["tuned"]["n"] = "two"
    (folder / "results.json").write_text(json.dumps(doc))
    with pytest.raises(html.ReportError, match=r"summary\[1\]\.tuned\.n should be an integer, got a string"):
        html.load(folder)


def test_no_directory_and_a_file_are_one_line(tmp_path: Path, quadratic: Path):
    code, _, err = invoke(str(tmp_path / "nowhere"))
    assert code == 2 and err.strip() == f"ravine report: {tmp_path / 'nowhere'}: no such directory"
    code, _, err = invoke(str(quadratic / "results.json"))
    assert code == 2 and "is a file; ravine report takes the directory that holds results.json" in err


def test_a_parent_folder_points_to_its_result_folders(tmp_path: Path, quadratic: Path):
    _copy(quadratic, tmp_path / "parent" / "quad")
    code, _, err = invoke(str(tmp_path / "parent"))
    assert code == 2 and "its subfolders quad have one: point at one of them" in err


def test_a_figure_outside_the_directory_is_refused(tmp_path: Path):
    (tmp_path / "secret.png").write_bytes(b"\x89PNG")
    (tmp_path / "r").mkdir()
    doc = {"format": "ravine.lr-finder/1", "figures": [{"file": "../secret.png", "title": "t", "caption": "c"}]}
    (tmp_path / "r" / "results.json").write_text(json.dumps(doc))
    code, _, err = invoke(str(tmp_path / "r"))
    assert code == 2 and "lies outside the result directory" in err


def test_a_bad_option_names_it_and_its_range(quadratic: Path):
    result = CliRunner().invoke(app, ["report", str(quadratic), "--max-points", "3"])
    assert result.exit_code == 2
    assert "--max-points" in result.output and "50" in result.output


def test_the_command_writes_the_page_and_says_where(quadratic: Path, tmp_path: Path):
    target = tmp_path / "deep" / "page.html"
    code, out, _ = invoke(str(quadratic), "--out", str(target), "--title", "My run")
    assert code == 0 and out.startswith(f"wrote {target} (") and target.is_file()
    assert "<title>My run</title>" in target.read_text()


def test_a_log_without_report_is_diagnosed(doctor: Path, tmp_path: Path):
    (tmp_path / "run.jsonl").write_bytes((doctor / "run.jsonl").read_bytes())
    code, _, err = invoke(str(tmp_path))
    assert code == 0, err
    page = (tmp_path / "report.html").read_text()
    kept = json.loads((doctor / "doctor.json").read_text())
    assert "diagnosed by ravine report" in page
    for f in kept["findings"]:  # the same findings as ravine doctor LOG --json gave
        assert f'data-kind="{f["kind"]}"' in page


def test_a_damaged_log_is_one_line(tmp_path: Path):
    (tmp_path / "run.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss"')
    (tmp_path / "other.csv").write_text("epoch,accuracy\n1,0.5\n")
    code, _, err = invoke(str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_compare_writes_the_page_at_the_end(tmp_path: Path, quadratic: Path):
    result = CliRunner().invoke(app, ["compare", "bowl", "-o", "sgd,adam", "--lr-grid", "0.1,1", "--no-gif",
                                      "--out", str(tmp_path / "bowl")])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = tmp_path / "bowl" / "report.html"
    assert page.is_file() and str(page) in result.output.replace("\n", "")
    assert page.read_text() == html.build(html.load(tmp_path / "bowl"))
    # a task comparison (the fixture ran compare_task.run) leaves its page too, the same as ravine report writes
    assert (quadratic / "report.html").read_text() == html.build(html.load(quadratic))
