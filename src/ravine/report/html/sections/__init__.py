"""One builder per kind of result: each takes a loaded :class:`~ravine.report.html.results.ResultDir` and returns
the page's :class:`Section` s, in reading order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    """A part of the page: ``ident`` is its HTML id (the contents link to it), ``html`` its body."""

    ident: str
    title: str
    html: str
    kind: str = ""
