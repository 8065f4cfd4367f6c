"""The generic part of any result: its ``figures`` and ``tables`` lists (RESULTS.md), drawn as they are.

Formats with no section of their own (an LR-finder sweep, a reproduction) are shown through these alone, with
their ``environment`` and ``summary`` fields when present."""

from __future__ import annotations

from collections.abc import Mapping

from ravine.report.html.markup import definition_list, esc, figure, image, items, slug, table
from ravine.report.html.results import ResultDir
from ravine.report.html.sections import Section


def title(result: ResultDir) -> str:
    """A heading for a generic result: its ``title``, else its format's name."""
    data = result.data
    if isinstance(data.get("title"), str):
        return data["title"]
    return result.format.removeprefix("ravine.").split("/")[0].replace("-", " ").capitalize()


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
    env = data.get("environment")
    if isinstance(env, Mapping) and env:
        out.append(Section(f"{base}-environment", "Environment", definition_list(items(env)), "generic"))
    return out
