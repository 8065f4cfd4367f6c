"""Small HTML helpers: escaping, tables, figures, inlined images, and the number formats the terminal uses.

Everything returns strings of HTML; every piece of text that came from a file passes through :func:`esc`.
"""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

Cell = str | int | float | None

MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}


def esc(text: object) -> str:
    """``text`` as HTML text (quotes escaped too, so it is safe inside attributes)."""
    return html.escape(str(text), quote=True)


def slug(text: str) -> str:
    """An id for ``text``: ``"ravine:kappa=1000"`` -> ``"ravine-kappa-1000"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def num(x: float | None, digits: int = 3) -> str:
    """``x`` in ``digits`` significant digits, ``-`` for a missing value (``:g`` style: 0.001, 2.5e-05, 120)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{digits}g}"


def sci(x: float | None) -> str:
    """A gap in the terminal's form: ``0`` or ``1.8e-08``."""
    if x is None:
        return "-"
    return "0" if x == 0 else f"{x:.1e}"


def lr(x: float | None) -> str:
    """A learning rate as the terminal writes it (``:g``)."""
    return "-" if x is None else f"{x:g}"


def times(ratio: float) -> str:
    """A ratio of two positive numbers as people say it: ``3x``, ``30x``, ``1.5x``."""
    return f"{ratio:.0f}x" if ratio >= 3 else f"{ratio:.1f}x"


def join(words: Sequence[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    caption: str | None = None,
    numeric: Sequence[bool] | None = None,
    row_keys: Sequence[str | None] | None = None,
    raw: bool = False,
    cls: str = "",
) -> str:
    """A table in a horizontally scrolling wrapper (so that a wide table never widens the page on a phone).

    Args:
        columns: header cells.
        rows: body rows (cells are escaped unless ``raw``).
        caption: a line under the table (escaped).
        numeric: per column, whether it is right-aligned (default: columns whose cells are all numbers).
        row_keys: per row, a ``data-series`` value (rows of one optimiser hide with its toggle).
        raw: the cells are already HTML.
        cls: extra class of the table.
    """
    rows = [list(r) for r in rows]
    if numeric is None:
        numeric = [all(isinstance(r[i], (int, float)) for r in rows if i < len(r)) for i in range(len(columns))]
    head = "".join(f'<th scope="col"{_align(numeric[i])}>{esc(c)}</th>' for i, c in enumerate(columns))
    body = []
    for k, r in enumerate(rows):
        key = row_keys[k] if row_keys is not None else None
        attr = f' data-series="{esc(key)}"' if key else ""
        cells = "".join(
            f"<td{_align(numeric[i] if i < len(numeric) else False)}>{c if raw else esc(_cell(c))}</td>"
            for i, c in enumerate(r)
        )
        body.append(f"<tr{attr}>{cells}</tr>")
    cap = f'<p class="note">{esc(caption)}</p>' if caption else ""
    return (
        f'<div class="table-wrap" tabindex="0"><table class="{esc(cls)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{cap}"
    )


def _align(right: bool) -> str:
    return ' class="num"' if right else ""


def _cell(c: Cell) -> str:
    if c is None:
        return "-"
    if isinstance(c, float):
        return num(c, 4)
    return str(c)


def data_uri(path: Path) -> str:
    """The file as a ``data:`` URI (the page must not load anything at view time)."""
    mime = MIME.get(path.suffix.lower())
    if mime is None:
        raise ValueError(f"{path.name}: not an image the page can inline ({', '.join(sorted(MIME))})")
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def image(path: Path, alt: str, *, cls: str = "") -> str:
    """An inlined ``<img>``, or a visible note when the file the results name is missing."""
    if not path.is_file():
        return f'<p class="missing">{esc(path.name)} is named by the results but is not in the directory.</p>'
    return (
        f'<div class="img-wrap"><img class="{esc(cls)}" src="{data_uri(path)}" alt="{esc(alt)}" '
        'title="Click or tap for full size"></div>'
    )


def figure(content: str, title: str, shows: str, *, fig_id: str | None = None, cls: str = "") -> str:
    """A figure with its title and the "what this shows" line under it."""
    ident = f' id="{esc(fig_id)}"' if fig_id else ""
    return (
        f'<figure class="fig {esc(cls)}"{ident}><div class="fig-title">{esc(title)}</div>{content}'
        f'<figcaption class="shows"><strong>What this shows:</strong> {esc(shows)}</figcaption></figure>'
    )


def details(summary: str, content: str, *, open_: bool = False) -> str:
    """A collapsible block."""
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{content}</details>"


def plain(v: object, none: str = "-") -> str:
    """A JSON value in words for a settings list: objects as ``key value, ...``, lists comma-separated, floats
    in ``:g`` form, None as ``none``."""
    if isinstance(v, dict):
        return ", ".join(f"{k} {plain(x, none)}" for k, x in v.items()) or "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(plain(x, none) for x in v) or "-"
    if isinstance(v, float):
        return f"{v:g}"
    return none if v is None else str(v)


def items(d: dict, skip: Sequence[str] = (), none: str = "-") -> list[tuple[str, str]]:
    """(label, value) pairs of a JSON object for :func:`definition_list`: ``lr_grid`` is labelled ``lr grid``."""
    return [(str(k).replace("_", " "), plain(v, none)) for k, v in d.items() if k not in skip]


def definition_list(items: Iterable[tuple[str, object]]) -> str:
    """``<dl>`` of (term, value) pairs, values escaped."""
    body = "".join(f"<dt>{esc(k)}</dt><dd>{esc(_cell(v) if not isinstance(v, str) else v)}</dd>" for k, v in items)
    return f'<dl class="kv">{body}</dl>'
