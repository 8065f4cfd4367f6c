"""The SVG charts: positions are the affine (or log-affine) map of the values, ticks are round numbers inside
the range, long series are thinned without losing their extremes or their gaps, and the markup is valid XML."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ravine.report.html import svg

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


@settings(max_examples=100, deadline=None)
@given(lo=st.floats(-1e6, 1e6), width=st.floats(1e-6, 1e6))
def test_linear_ticks_are_round_and_inside(lo: float, width: float):
    assume(width > 1e-4 * abs(lo))  # a chart's range is wider than 4-digit tick labels can tell apart
    hi = lo + width
    ticks = svg.linear_ticks(lo, hi)
    step = svg.nice_step(width / 5)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-9
    assert 2 <= len(ticks) <= 12
    assert all(lo - 1e-9 * abs(step) <= t <= hi + 1e-6 * abs(step) for t in ticks)
    assert all(abs(t / step - round(t / step)) < 1e-6 for t in ticks)


def test_scales_map_values_affinely():
    s = svg.Scale(0.0, 10.0, 50, 350, log=False)
    assert (s(0.0), s(5.0), s(10.0)) == (50, 200, 350)
    lg = svg.Scale(1e-3, 1e1, 50, 450, log=True)
    assert lg(1e-3) == pytest.approx(50) and lg(1e-1) == pytest.approx(250) and lg(1e1) == pytest.approx(450)
    assert lg.ticks() == [1e-3, 1e-2, 1e-1, 1.0, 10.0]
    wide = svg.Scale(0.1, 1e16, 0, 100, log=True)  # a diverged loss: at most 7 labels, still powers of ten
    assert len(wide.ticks()) <= 7 and all(math.log10(t) == round(math.log10(t)) for t in wide.ticks())
    short = svg.Scale(0.9, 2.3, 0, 100, log=True)  # less than a decade: round numbers, not only 1 and 2
    assert len(short.ticks()) >= 3 and all(0.9 <= t <= 2.3 for t in short.ticks())


def test_thin_keeps_extremes_and_breaks():
    rng = np.random.default_rng(0)
    ys = list(rng.normal(size=10_000))
    ys[5000] = 40.0  # a spike
    ys[7000] = float("nan")  # a gap
    xs = list(range(10_000))
    tx, ty = svg.thin(xs, ys, 400)
    assert len(tx) <= 420 and tx == sorted(tx)
    assert 40.0 in ty and min(v for v in ty if math.isfinite(v)) == min(v for v in ys if math.isfinite(v))
    assert any(math.isnan(v) for v in ty)
    assert svg.thin([1, 2], [3.0, 4.0], 10) == ([1, 2], [3.0, 4.0])
    with pytest.raises(ValueError, match="n must be >= 2"):
        svg.thin(xs, ys, 1)


def test_a_chart_is_valid_svg_with_its_points():
    series = [
        svg.Series("adam", "adam", "#D55E00", [0, 1, 2, 3], [1.0, 0.5, None, 0.2], lo=[0.9, 0.4, None, 0.1],
                   hi=[1.1, 0.6, None, 0.3]),
        svg.Series("sgd", "sgd", "#7F7F7F", [0, 1, 2, 3], [1.0, 0.8, 0.7, 0.6], dash=True),
    ]  # fmt: skip
    chart = svg.Chart(
        "t & <t>",
        svg.Axis("epoch"),
        svg.Axis("loss", log=True),
        series,
        marks=[svg.Mark("sgd", 3, None, "cross", "#000", "diverged")],
        spans=[svg.Span(1, 2, "#0072B2", "plateau")],
    )
    root = parse(svg.render(chart, "c1"))
    assert root.find("s:title", NS).text == "t & <t>"
    lines = root.findall(".//s:polyline", NS)
    assert len(lines) == 3  # adam breaks at its missing point
    assert [len(p.get("points").split()) for p in lines] == [2, 1, 4]
    assert len(root.findall(".//s:polygon[@class='band']", NS)) == 1  # a band needs two points in a row
    assert root.find(".//s:rect[@class='span']", NS) is not None
    hover = json.loads(root.get("data-hover"))
    assert [len(s["pts"]) for s in hover["series"]] == [3, 4]
    # hover values are written as the axis writes them, positions are the scale's
    assert [p[3] for p in hover["series"][1]["pts"]] == ["1", "0.8", "0.7", "0.6"]
    assert hover["series"][0]["pts"][0][0] == hover["series"][1]["pts"][0][0]


def test_an_unknown_mark_shape_is_refused():
    chart = svg.Chart("t", svg.Axis("x"), svg.Axis("y"), marks=[svg.Mark("a", 1, 1, "star", "#000", "t")])
    with pytest.raises(ValueError, match="shape must be ring, triangle, cross or dot"):
        svg.render(chart, "c")
