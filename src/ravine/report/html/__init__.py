"""One self-contained HTML page per result directory of the lab (``ravine report DIR``).

``load(dir)`` reads and checks the directory (:mod:`.results`), ``build(result, options)`` turns it into the page:
tables and "what this shows" lines from results.json (:mod:`.captions`), the PNG and GIF figures inlined as data
URIs, and hand-written SVG charts (:mod:`.svg`) with a little inlined script for hover values and optimiser
toggles. Nothing is computed here: every number on the page is one the lab or the doctor wrote.

Example:
    >>> from ravine.report import html                                       # doctest: +SKIP
    >>> html.write("ravine-out")                                             # doctest: +SKIP
    PosixPath('ravine-out/report.html')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ravine
from ravine.report.html import page
from ravine.report.html.results import (
    DOCTOR,
    LANDSCAPES,
    LR_FINDER,
    REPRODUCTION,
    TASK,
    DoctorRun,
    ReportError,
    ResultDir,
    load,
)
from ravine.report.html.sections import Section, doctor, generic, landscape, task

__all__ = ["DoctorRun", "PageOptions", "ReportError", "ResultDir", "Section", "build", "load", "sections", "write"]

REPORT_NAME = "report.html"


@dataclass(frozen=True)
class PageOptions:
    """How the page is built.

    Attributes:
        animations: inline the landscape animations (GIFs, the heaviest part of a landscape page).
        max_points: at most about this many points per drawn series of a doctor log (>= 50); long logs are
            thinned for drawing, keeping each bucket's lowest and highest value.
        title: the page's title (default: from the results).
    """

    animations: bool = True
    max_points: int = 2000
    title: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_points, bool) or not isinstance(self.max_points, int) or self.max_points < 50:
            raise ValueError(f"max_points must be an integer >= 50, got {self.max_points!r}")


def sections(result: ResultDir, options: PageOptions = PageOptions()) -> list[Section]:
    """The page's sections for ``result``, in reading order."""
    if result.format == LANDSCAPES:
        out = landscape.sections(result, animations=options.animations)
    elif result.format == TASK:
        out = task.sections(result, max_points=options.max_points)
    elif result.format == DOCTOR:
        out = doctor.sections(result, max_points=options.max_points)
    else:
        return generic.sections(result)
    return out + [s for s in generic.sections(result, prefix="extra") if not s.ident.endswith("environment")]


def title(result: ResultDir) -> str:
    """The page's default title."""
    d = result.data
    if result.format == LANDSCAPES:
        n, m = len(d["landscapes"]), len(d["settings"].get("optimizers", []))
        names = ", ".join(land["title"] for land in d["landscapes"]) if n <= 2 else f"{n} landscapes"
        return f"ravine compare: {m} optimiser{'s' * (m != 1)} on {names}"
    if result.format == TASK:
        n, seeds = len(d["summary"]), d["protocol"]["seeds"]
        return f"ravine compare {d['task']['name']}: {n} optimiser{'s' * (n != 1)}, {seeds} seed{'s' * (seeds != 1)}"
    if result.format == DOCTOR:
        return "ravine doctor: " + ", ".join(r.name for r in result.runs)
    if result.format in (LR_FINDER, REPRODUCTION) or result.format:
        return generic.title(result)
    return "ravine results"


def build(result: ResultDir, options: PageOptions = PageOptions()) -> str:
    """The HTML page of ``result``.

    Raises:
        ReportError: the result directory has no content the page can show.
    """
    parts = sections(result, options)
    if not parts:
        raise ReportError(
            f"{result.path / 'results.json'}: format {result.format!r} carries no figures or tables to show"
        )
    source = "results.json" if result.data else ", ".join(r.report_file or r.log_file or r.name for r in result.runs)
    subtitle = f"{result.path} · from {source} · every number as the lab wrote it"
    footer = (
        f"Made by ravine report {ravine.__version__}. The page is self-contained: figures, style and script are "
        "inlined, nothing is fetched when it is viewed."
    )
    return page.render(options.title or title(result), subtitle, parts, footer=footer)


def write(path: str | os.PathLike, out: str | os.PathLike | None = None, options: PageOptions = PageOptions()) -> Path:
    """Load the result directory ``path`` and write its page to ``out`` (default ``path/report.html``).

    The page is written to a temporary file and renamed, so a reader never sees half a page.

    Raises:
        ReportError: see :func:`~ravine.report.html.results.load`.
        OSError: ``out`` cannot be written.
    """
    result = load(path)
    return save(build(result, options), Path(out) if out is not None else Path(path) / REPORT_NAME)


def save(text: str, target: Path) -> Path:
    """Write ``text`` to ``target`` atomically; returns ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target
