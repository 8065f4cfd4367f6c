"""The page shows what the terminal showed: its ranked tables, cell for cell, read from results.json; and the
learning curves and sensitivity charts draw the numbers of results.json, point for point."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.table import Table
from rich.text import Text

from ravine.cli import compare_tables
from ravine.cli.compare_task import table as task_table
from ravine.report import html
from ravine.report.html.sections import landscape, task


def terminal_cells(t: Table) -> list[list[str]]:
    """The plain text of a rich table's cells, row by row (the colour square before a name dropped)."""
    cols = [[Text.from_markup(c).plain if isinstance(c, str) else str(c) for c in col._cells] for col in t.columns]
    return [[cell.replace("■ ", "").strip() for cell in row] for row in zip(*cols, strict=True)]


def test_task_table_is_the_terminals(quadratic: Path):
    doc = json.loads((quadratic / "results.json").read_text())
    rows, _ = task.ranking_rows(doc)
    assert [[c.strip() for c in r] for r in rows] == terminal_cells(task_table(doc))


def test_landscape_tables_are_the_terminals(landscapes, given):
    for case in (landscapes, given):
        doc = json.loads((case.path / "results.json").read_text())
        for result, land in zip(case.results, doc["landscapes"], strict=True):
            recs = [r for r in doc["records"] if r["landscape"] == land["name"]]
            _, rows = landscape.ranked_rows(land, recs)
            want = terminal_cells(compare_tables.landscape_table(result, width=None))
            # the terminal marks the best of several given rates in bold; the page writes "(best)"
            got = [[c.replace(" (best)", "") for c in r] for r in rows]
            assert got == want, land["name"]


class Cells(HTMLParser):
    """The text of every table cell of a page, per table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_overall_table_on_the_page_is_the_terminals(landscapes):
    page = html.build(html.load(landscapes.path))
    parser = Cells()
    parser.feed(page)
    want = terminal_cells(compare_tables.overall_table(landscapes.results))
    overall = next(t for t in parser.tables if t[0] == ["#", "optimiser", "mean rank", "wins", "all starts reached"])
    assert overall[1:] == want


def _points(svg_text: str) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in m.split()]
        for m in re.findall(r'<polyline[^>]* points="([^"]+)"', svg_text)
    ]


def test_curves_draw_the_recorded_means(quadratic: Path):
    """Each drawn learning curve has one vertex per recorded finite, positive mean (log axis), in step order."""
    doc = json.loads((quadratic / "results.json").read_text())
    page = html.build(html.load(quadratic))
    chart = page.split('id="quadratic-deep-curve-train_loss"')[1].split("</svg>")[0]
    hover = json.loads(
        html_unescape(
            re.search(r'data-hover="([^"]+)"', page.split('id="quadratic-deep-curve-train_loss"')[1]).group(1)
        )
    )
    for row in doc["summary"]:
        for part, suffix in (("tuned", ""), ("default", " (default)")):
            agg = row[part]
            label = f"{row['optimizer']} lr={agg['lr']:g}{suffix}"
            series = next(s for s in hover["series"] if s["label"] == label)
            means = [m for m in agg["curve"]["train_loss"]["mean"] if m is not None and m > 0]
            assert [float(p[3]) for p in series["pts"]] == pytest.approx(means, rel=5e-4)
            xs = [p[0] for p in series["pts"]]
            assert xs == sorted(xs)
    assert len(_points(chart)) >= len(doc["summary"]) * 2


def html_unescape(s: str) -> str:
    import html as std

    return std.unescape(s)


def test_doctor_legend_only_where_a_cell_says_n_a(quadratic: Path):
    """The "doctor n/a" legend explains a cell; with the doctor on every seed (the lab's default) there is none."""
    doc = json.loads((quadratic / "results.json").read_text())
    rows, _ = task.ranking_rows(doc)
    assert all(r[-1] != "n/a" for r in rows), "the lab's runs are examined by the doctor"
    assert "doctor n/a" not in str(task_table(doc).caption)
    assert "doctor n/a" not in task._ranking(doc)
    doc["summary"][0]["tuned"]["findings"] = None  # one seed's run had no doctor
    assert "doctor n/a" in str(task_table(doc).caption)
    assert "doctor n/a" in task._ranking(doc)
