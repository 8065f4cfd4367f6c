"""Line charts as inline SVG: series with min-max bands, single marks, shaded step spans, linear or log axes.

A chart is a plain description (:class:`Chart`); :func:`render` turns it into an ``<svg>`` that reads without
JavaScript (every mark has a ``<title>``), and carries the points in ``data-hover`` for the page's small script,
which adds hover values and hides the series of a toggled optimiser. Nothing is computed here but positions:
the values come from the result files as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ravine.report.html.markup import esc, num

Number = float | int | None


@dataclass(frozen=True)
class Series:
    """One line. ``key`` groups it with its toggle (an optimiser's name); ``lo``/``hi`` draw a band under it."""

    key: str
    label: str
    color: str
    x: Sequence[Number]
    y: Sequence[Number]
    lo: Sequence[Number] | None = None
    hi: Sequence[Number] | None = None
    dash: bool = False
    width: float = 1.6
    markers: bool = False
    hover: bool = True


@dataclass(frozen=True)
class Mark:
    """A single point: ``shape`` is ``ring``, ``triangle``, ``cross`` or ``dot``; ``y=None`` puts it on the
    bottom edge (a diverged run has no value to plot)."""

    key: str
    x: float
    y: float | None
    shape: str
    color: str
    title: str


@dataclass(frozen=True)
class Span:
    """A shaded range of x (a doctor finding's steps)."""

    x0: float
    x1: float
    color: str
    title: str
    key: str = ""


@dataclass(frozen=True)
class Axis:
    """An axis: its label, log or linear, an optional fixed range, and how its values are written."""

    label: str
    log: bool = False
    lim: tuple[float, float] | None = None
    fmt: Callable[[float], str] = num


@dataclass(frozen=True)
class Chart:
    title: str
    x: Axis
    y: Axis
    series: Sequence[Series] = ()
    marks: Sequence[Mark] = ()
    spans: Sequence[Span] = ()
    width: int = 400
    height: int = 260
    notes: Sequence[str] = field(default_factory=tuple)


LEFT, RIGHT, TOP, BOTTOM = 50, 10, 10, 38


class Scale:
    """Data to pixels on one axis (log or linear), and the ticks to label."""

    def __init__(self, lo: float, hi: float, px0: float, px1: float, log: bool) -> None:
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        self.lo, self.hi, self.px0, self.px1, self.log = lo, hi, px0, px1, log

    def __call__(self, v: float) -> float:
        t = math.log10(v) if self.log else v
        return self.px0 + (t - self.lo) / (self.hi - self.lo) * (self.px1 - self.px0)

    def ticks(self) -> list[float]:
        """Round values to label: powers of ten (with 2 and 5 between over a few decades, every few powers over
        many) on a log axis, and
        multiples of 1, 2, 2.5 or 5 times a power of ten on a linear one (or a log axis under a decade)."""
        if self.log:
            a, b = math.floor(self.lo), math.ceil(self.hi)
            mults = (1,) if b - a > 3 else (1, 2, 5) if b - a > 1 else (1, 2, 3, 5)
            stride = math.ceil((b - a) / 6)  # many decades (a diverged loss): every few powers of ten
            out = [m * 10.0**k for k in range(a, b + 1) if k % stride == 0 for m in mults]
            out = [v for v in out if self.lo - 1e-9 <= math.log10(v) <= self.hi + 1e-9]
            if len(out) >= 3:
                return out
            return [v for v in linear_ticks(10**self.lo, 10**self.hi) if v > 0]
        return linear_ticks(self.lo, self.hi)


def linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Multiples of :func:`nice_step` from ``lo`` to ``hi``, about ``count`` of them."""
    step = nice_step((hi - lo) / count)
    k = math.ceil(lo / step - 1e-9)
    out = []
    while k * step <= hi + 1e-9 * step:
        out.append(round(k * step, 12))
        k += 1
    return out


def nice_step(raw: float) -> float:
    """The tick spacing of 1, 2, 2.5 or 5 times a power of ten nearest above ``raw``."""
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= raw * (1 - 1e-9):
            return m * 10**exp
    return 10 ** (exp + 1)


def _ok(v: Number, log: bool) -> bool:
    return v is not None and math.isfinite(v) and (not log or v > 0)


def _range(values: list[float], log: bool, lim: tuple[float, float] | None) -> tuple[float, float]:
    if lim is not None:
        return lim
    vals = [v for v in values if _ok(v, log)]
    if not vals:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if log:
        pad = (hi / lo) ** 0.05 if hi > lo else 2.0
        return lo / pad, hi * pad
    pad = 0.05 * (hi - lo) if hi > lo else (abs(hi) * 0.1 or 1.0)
    return lo - pad, hi + pad


def _segments(xs: Sequence[Number], ys: Sequence[Number], xlog: bool, ylog: bool) -> list[list[tuple[float, float]]]:
    segs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys, strict=False):
        if _ok(x, xlog) and _ok(y, ylog):
            segs[-1].append((float(x), float(y)))  # type: ignore[arg-type]
        elif segs[-1]:
            segs.append([])
    return [s for s in segs if s]


def _f(v: float) -> str:
    return f"{v:.1f}"


def render(chart: Chart, uid: str) -> str:
    """The chart as an ``<svg>`` element; ``uid`` makes its internal ids unique on the page."""
    w, h = chart.width, chart.height
    xs = (
        [v for s in chart.series for v in s.x]
        + [m.x for m in chart.marks]
        + [v for sp in chart.spans for v in (sp.x0, sp.x1)]
    )
    ys = [v for s in chart.series for v in (*s.y, *(s.lo or ()), *(s.hi or ()))] + [
        m.y for m in chart.marks if m.y is not None
    ]
    sx = Scale(*_range(xs, chart.x.log, chart.x.lim), LEFT, w - RIGHT, chart.x.log)
    sy = Scale(*_range(ys, chart.y.log, chart.y.lim), h - BOTTOM, TOP, chart.y.log)
    x0, x1, y0, y1 = LEFT, w - RIGHT, TOP, h - BOTTOM
    clip = f"clip-{uid}"
    hover = json.dumps(_hover(chart, sx, sy), separators=(",", ":"))
    out = [
        f'<svg class="chart" id="{esc(uid)}" viewBox="0 0 {w} {h}" style="max-width:{round(w * 1.3)}px" role="img" '
        f'aria-labelledby="{esc(uid)}-t" '
        f'preserveAspectRatio="xMidYMid meet" data-hover="{esc(hover)}">',
        f'<title id="{esc(uid)}-t">{esc(chart.title)}</title>',
        f'<defs><clipPath id="{clip}"><rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"/></clipPath></defs>',
        f'<rect class="frame" x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"/>',
    ]
    out += _grid(chart, sx, sy, x0, x1, y0, y1)
    clipped, marks = [], []
    for sp in chart.spans:
        a, b = sorted((sx(max(sp.x0, _low(sx))), sx(sp.x1 if sp.x1 > sp.x0 else sp.x0)))
        b = max(b, a + 2)
        key = f' data-series="{esc(sp.key)}"' if sp.key else ""
        clipped.append(
            f'<rect class="span"{key} x="{_f(a)}" y="{y0}" width="{_f(b - a)}" height="{y1 - y0}" '
            f'fill="{esc(sp.color)}"><title>{esc(sp.title)}</title></rect>'
        )
    clipped += [_series(s, sx, sy, chart) for s in chart.series]
    bottom_count: dict[float, int] = {}
    for m in chart.marks:
        px = sx(m.x) if _ok(m.x, chart.x.log) else None
        if px is None:
            continue
        if m.y is None or not _ok(m.y, chart.y.log):
            k = bottom_count.get(round(px), 0)
            bottom_count[round(px)] = k + 1
            py = y1 - 6 - 9 * k
        else:
            py = sy(m.y)
        marks.append(
            f'<g class="mark" data-series="{esc(m.key)}">{_shape(m.shape, px, py, m.color)}'
            f"<title>{esc(m.title)}</title></g>"
        )
    out.append(f'<g clip-path="url(#{clip})">{"".join(clipped)}</g>')
    out += marks
    out.append(f'<line class="guide" x1="0" x2="0" y1="{y0}" y2="{y1}" visibility="hidden"/><g class="dots"></g>')
    out.append("</svg>")
    return "".join(out)


def _low(sx: Scale) -> float:
    return 10**sx.lo if sx.log else sx.lo


def _grid(chart: Chart, sx: Scale, sy: Scale, x0: float, x1: float, y0: float, y1: float) -> list[str]:
    out = []
    for t in sx.ticks():
        p = sx(t)
        out.append(f'<line class="grid" x1="{_f(p)}" x2="{_f(p)}" y1="{y0}" y2="{y1}"/>')
        out.append(f'<text class="tick" x="{_f(p)}" y="{y1 + 13}" text-anchor="middle">{esc(chart.x.fmt(t))}</text>')
    for t in sy.ticks():
        p = sy(t)
        out.append(f'<line class="grid" x1="{x0}" x2="{x1}" y1="{_f(p)}" y2="{_f(p)}"/>')
        out.append(f'<text class="tick" x="{x0 - 4}" y="{_f(p + 3.5)}" text-anchor="end">{esc(chart.y.fmt(t))}</text>')
    out.append(
        f'<text class="label" x="{(x0 + x1) / 2:.1f}" y="{chart.height - 6}" text-anchor="middle">'
        f"{esc(chart.x.label)}</text>"
    )
    out.append(
        f'<text class="label" transform="translate(11 {(y0 + y1) / 2:.1f}) rotate(-90)" text-anchor="middle">'
        f"{esc(chart.y.label)}</text>"
    )
    return out


def _series(s: Series, sx: Scale, sy: Scale, chart: Chart) -> str:
    xl, yl = chart.x.log, chart.y.log
    parts = [f'<g class="series" data-series="{esc(s.key)}" data-label="{esc(s.label)}">']
    if s.lo is not None and s.hi is not None:
        for seg in _band_segments(s, xl, yl):
            upper = " ".join(f"{_f(sx(x))},{_f(sy(hi))}" for x, _, hi in seg)
            lower = " ".join(f"{_f(sx(x))},{_f(sy(lo))}" for x, lo, _ in reversed(seg))
            parts.append(f'<polygon class="band" points="{upper} {lower}" fill="{esc(s.color)}"/>')
    dash = ' stroke-dasharray="5 3"' if s.dash else ""
    for seg in _segments(s.x, s.y, xl, yl):
        pts = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in seg)
        parts.append(f'<polyline class="line" points="{pts}" stroke="{esc(s.color)}" stroke-width="{s.width}"{dash}/>')
        if s.markers:
            for x, y in seg:
                parts.append(
                    f'<circle class="pt" cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="2.6" fill="{esc(s.color)}">'
                    f"<title>{esc(s.label)}: {esc(chart.x.label)} {esc(chart.x.fmt(x))}, "
                    f"{esc(chart.y.label)} {esc(chart.y.fmt(y))}</title></circle>"
                )
    parts.append("</g>")
    return "".join(parts)


def _band_segments(s: Series, xl: bool, yl: bool) -> list[list[tuple[float, float, float]]]:
    segs: list[list[tuple[float, float, float]]] = [[]]
    for x, lo, hi in zip(s.x, s.lo or (), s.hi or (), strict=False):
        if _ok(x, xl) and _ok(lo, yl) and _ok(hi, yl):
            segs[-1].append((float(x), float(lo), float(hi)))  # type: ignore[arg-type]
        elif segs[-1]:
            segs.append([])
    return [g for g in segs if len(g) > 1]


def _shape(shape: str, x: float, y: float, color: str) -> str:
    c = esc(color)
    if shape == "ring":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="6.5" fill="none" stroke="{c}" stroke-width="1.8"/>'
    if shape == "triangle":
        return (
            f'<polygon points="{_f(x)},{_f(y - 6)} {_f(x - 5.2)},{_f(y + 3.5)} {_f(x + 5.2)},{_f(y + 3.5)}" '
            f'fill="{c}" stroke="#000" stroke-width="0.6"/>'
        )
    if shape == "cross":
        return (
            f'<path d="M{_f(x - 4)},{_f(y - 4)}L{_f(x + 4)},{_f(y + 4)}'
            f'M{_f(x - 4)},{_f(y + 4)}L{_f(x + 4)},{_f(y - 4)}" '
            f'stroke="{c}" stroke-width="1.8"/>'
        )
    if shape == "dot":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.2" fill="{c}"/>'
    raise ValueError(f"shape must be ring, triangle, cross or dot, got {shape!r}")


def _hover(chart: Chart, sx: Scale, sy: Scale) -> dict:
    """What the script shows on hover: per series its points in SVG units and the values as written."""
    series = []
    for s in chart.series:
        if not s.hover:
            continue
        pts = [
            [round(sx(x), 1), round(sy(y), 1), chart.x.fmt(x), chart.y.fmt(y)]
            for seg in _segments(s.x, s.y, chart.x.log, chart.y.log)
            for x, y in seg
        ]
        series.append({"key": s.key, "label": s.label, "color": s.color, "pts": pts})
    return {"x": chart.x.label, "y": chart.y.label, "series": series}


def thin(xs: Sequence[float], ys: Sequence[float], n: int) -> tuple[list[float], list[float]]:
    """At most about ``n`` points of a long series for drawing: per bucket its lowest and highest value (so spikes
    stay visible) and the first non-finite one (so the line breaks where the data does)."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if len(xs) <= n:
        return list(xs), list(ys)
    size = math.ceil(len(xs) / (n // 2))
    keep: list[int] = []
    for a in range(0, len(xs), size):
        idx = range(a, min(a + size, len(xs)))
        finite = [i for i in idx if ys[i] is not None and math.isfinite(ys[i])]
        chosen = {min(finite, key=lambda i: ys[i]), max(finite, key=lambda i: ys[i])} if finite else set()
        bad = [i for i in idx if i not in finite]
        if bad:
            chosen.add(bad[0])
        keep += sorted(chosen)
    return [xs[i] for i in keep], [ys[i] for i in keep]
