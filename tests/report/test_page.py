"""The page without a browser: self-contained (nothing to fetch), one section per part of the results, every
figure the lab wrote inlined, text from the files escaped, the same page for the same results."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from ravine.report import html
from ravine.report.html import PageOptions

ATTR = re.compile(r"""\b(?:src|href|xlink:href|action|poster|srcset)\s*=\s*["']([^"']*)["']""", re.I)


def external(page: str) -> list[str]:
    """Every reference the page would fetch: attributes that are not data: URIs or in-page anchors, and url()."""
    refs = [v for v in ATTR.findall(page) if not (v.startswith("data:") or v.startswith("#"))]
    refs += [u for u in re.findall(r"url\(\s*['\"]?([^)'\"]+)", page) if not u.startswith(("data:", "#"))]
    refs += re.findall(r"<link\b[^>]*rel=[\"']?stylesheet", page) + re.findall(r"<script\b[^>]*\bsrc=", page)
    refs += re.findall(r"@import", page)
    return refs


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)"', page)


def test_a_landscape_page_is_self_contained_and_complete(landscapes, sections_of):
    page = html.build(html.load(landscapes.path))
    assert external(page) == []
    assert section_ids(page) == sections_of(landscapes.path)
    images = re.findall(r'<img [^>]*src="data:(image/\w+);base64,([^"]+)"', page)
    written = sorted(p.name for p in landscapes.path.iterdir() if p.suffix in (".png", ".gif"))
    assert len(images) == len(written)
    inlined = {base64.b64decode(data) for _, data in images}
    assert inlined == {(landscapes.path / name).read_bytes() for name in written}
    assert page.count('class="shows"') >= len(written)


def test_a_task_page_is_self_contained_and_complete(quadratic: Path, sections_of):
    page = html.build(html.load(quadratic))
    assert external(page) == []
    assert section_ids(page) == sections_of(quadratic)
    doc = json.loads((quadratic / "results.json").read_text())
    for key in ("torch", "ravine", "python", "torch_threads_per_run"):
        assert f"<dd>{doc['environment'][key]}</dd>" in page
    assert f"<dd>{doc['protocol']['seeds']}</dd>" in page


def test_without_animations_the_gifs_stay_out(landscapes):
    page = html.build(html.load(landscapes.path), PageOptions(animations=False))
    assert "data:image/gif" not in page and "data:image/png" in page


def test_the_same_results_give_the_same_page(quadratic: Path):
    a = html.build(html.load(quadratic))
    b = html.build(html.load(quadratic))
    assert a == b


def test_text_from_the_files_is_escaped(quadratic: Path, tmp_path: Path):
    doc = json.loads((quadratic / "results.json").read_text())
    doc["task"]["summary"] = "<script>alert(1)</script>"
    doc["summary"][0]["optimizer"] = 'a"b<i>'
    (tmp_path / "results.json").write_text(json.dumps(doc))
    page = html.build(html.load(tmp_path))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'a"b<i>' not in page
    assert page.count("<script>") == 1  # the page's own


def test_a_format_without_a_section_is_shown_by_its_figures_and_tables(tmp_path: Path):
    """An LR-finder sweep (issue 14) as RESULTS.md describes its generic part."""
    from PIL import Image

    Image.new("RGB", (320, 200), (200, 120, 40)).save(tmp_path / "lr_finder.png")
    doc = {
        "format": "ravine.lr-finder/1",
        "title": "LR range test: mnist-logreg, adam",
        "figures": [
            {"file": "lr_finder.png", "title": "Loss against lr", "caption": "The loss falls fastest at 3e-3."}
        ],
        "tables": [{"title": "Suggested rates", "columns": ["rule", "lr"], "rows": [["steepest", 0.003]], "note": "n"}],
        "environment": {"torch": "2.13.0", "seeds": [0]},
        "settings": {"sweep": {"start": 1e-7, "end": 10.0}},
    }
    (tmp_path / "results.json").write_text(json.dumps(doc))
    page = html.build(html.load(tmp_path))
    assert section_ids(page) == ["lr-range-test-mnist-logreg-adam-figures", "lr-range-test-mnist-logreg-adam-tables",
                                 "lr-range-test-mnist-logreg-adam-environment"]  # fmt: skip
    assert "The loss falls fastest at 3e-3." in page and '<td class="num">0.003</td>' in page
    assert "<dd>start 1e-07, end 10</dd>" in page and "<dd>2.13.0</dd>" in page
    assert external(page) == []


def test_a_task_without_a_grid_says_so(quadratic: Path, tmp_path: Path):
    """A comparison whose rates were chosen without a grid (an LR range test) has no sensitivity chart to draw."""
    doc = json.loads((quadratic / "results.json").read_text())
    for row in doc["summary"]:
        row["grid"] = []
    doc["protocol"]["lr_grid"] = None
    (tmp_path / "results.json").write_text(json.dumps(doc))
    page = html.build(html.load(tmp_path))
    assert "No grid was run" in page and "Diverged on the grid" not in page


def test_a_listed_figure_that_is_missing_is_said_not_broken(tmp_path: Path):
    doc = {"format": "ravine.reproduction/1", "figures": [{"file": "gone.png", "title": "t", "caption": "c"}]}
    (tmp_path / "results.json").write_text(json.dumps(doc))
    page = html.build(html.load(tmp_path))
    assert "gone.png is named by the results but is not in the directory" in page and "<img" not in page


def test_a_doctor_page_has_each_finding_beside_its_curve(doctor: Path):
    page = html.build(html.load(doctor))
    report = json.loads((doctor / "doctor.json").read_text())
    assert external(page) == []
    pair = page.split('class="finding-pair wide"')[1]
    for f in report["findings"]:
        assert f'data-kind="{f["kind"]}"' in pair and f["message"] in pair
        for advice in f["advice"]:
            assert html_escape(advice) in pair
        for key in f["evidence"]:
            assert f"<td>{key}</td>" in pair
    assert pair.count('class="span"') == len(report["findings"]) * 2  # shaded on the loss and gradient-norm panels


def html_escape(s: str) -> str:
    import html as std

    return std.escape(s, quote=True)


def test_page_options_are_checked():
    with pytest.raises(ValueError, match="max_points must be an integer >= 50, got 10"):
        PageOptions(max_points=10)
