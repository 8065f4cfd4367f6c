"""The generic part of any result: its ``figures`` and ``tables`` lists (RESULTS.md), drawn as they are.

Formats with no section of their own (an LR-finder sweep, a reproduction) are shown through these alone, with
their ``environment`` and ``summary`` fields when present."""

from __future__ import annotations

from collections.abc import Mapping

from ravine.report.html.markup import definition_list, esc, figure, image, items, slug, table
from ravine.report.html.results import ResultDir
from ravine.report.html.sections import Section

NAMES = {"lr-finder": "LR range test", "reproduction": "Reproduction"}


def title(result: ResultDir) -> str:
    """A heading for a generic result: its ``title``, else its format's name (and its task's, when it has one)."""
    data = result.data
    if isinstance(data.get("title"), str):
        return data["title"]
    kind = result.format.removeprefix("ravine.").split("/")[0]
    name = NAMES.get(kind, kind.replace("-", " ").capitalize())
    task = data.get("task")
    return f"{name}: {task['name']}" if isinstance(task, dict) and isinstance(task.get("name"), str) else name


def sections(result: ResultDir, *, prefix: str = "") -> list[Section]:
    """Figures, tables and environment of ``result`` (an empty list when it carries none)."""
    data = result.data
    base = prefix or slug(title(result))
    out = []
    figs = data.get("figures") or []
    if figs:
        body = "".join(
            figure(image(result.file(f["file"]), f["title"]), f["title"], f["caption"], fig_id=f"{base}-fig-{i}")
            for i, f in enumerate(figs)
        )
        out.append(Section(f"{base}-figures", f"{title(result)}: figures", body, "generic"))
    tables = data.get("tables") or []
    if tables:
        body = "".join(
            f"<h3>{esc(t['title'])}</h3>" + table(t["columns"], t["rows"], caption=t.get("note")) for t in tables
        )
        out.append(Section(f"{base}-tables", f"{title(result)}: tables", body, "generic"))
    parts = [
        (heading, data.get(key))
        for heading, key in (("Settings", "settings"), ("Environment", "environment"))
        if isinstance(data.get(key), Mapping) and data.get(key)
    ]
    if parts:
        body = "".join(f"<div><h3>{esc(h)}</h3>{definition_list(items(dict(d)))}</div>" for h, d in parts)
        out.append(
            Section(f"{base}-environment", "Settings and environment", f'<div class="cols">{body}</div>', "generic")
        )
    return out
