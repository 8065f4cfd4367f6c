"""The schedule plot helper: draws exactly the values the schedules give, to a PNG, without pyplot."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from ravine.report import schedule_plot
from ravine.report.schedule_plot import save_schedule_plot, schedule_figure
from ravine.schedules import ReduceOnPlateau, cosine, exponential, multistep, one_cycle, values, warmup


def test_png_with_the_schedules_values(tmp_path):
    curves = {"warm-up + cosine": warmup(cosine(0.1, 90), 10), "one-cycle": one_cycle(0.1, 120)}
    path = save_schedule_plot(tmp_path / "lr.png", curves)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 400 and im.size[1] > 200
    fig = schedule_figure(curves)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == list(curves)
    for line, s in zip(lines, curves.values(), strict=True):
        xs = list(line.get_xdata())
        assert xs == list(range(len(xs))) and list(line.get_ydata()) == values(s, xs)
    # by default up to the latest horizon (one_cycle: step 119) and a tenth more
    assert len(xs) == 120 + 11
    assert fig.legends and not fig.axes[0].get_legend()  # the legend sits outside the axes


def test_log_scale_when_values_span_decades():
    assert schedule_figure(exponential(1.0, 0.99), 1000).axes[0].get_yscale() == "log"
    assert schedule_figure(cosine(1.0, 100)).axes[0].get_yscale() == "linear"  # reaches 0
    assert schedule_figure(multistep(1.0, [10], 0.5)).axes[0].get_yscale() == "linear"
    assert schedule_figure(cosine(1.0, 100), log_y=False).axes[0].get_yscale() == "linear"


def test_long_runs_are_subsampled_with_the_last_step():
    xs = schedule_plot.schedule_steps({"c": cosine(1.0, 10**6)}, 10**6 + 1)
    assert len(xs) <= schedule_plot.MAX_POINTS and xs[0] == 0 and xs[-1] == 10**6


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((exponential(1.0, 0.9),), "steps: .* never settles"),
        (({"plateau": ReduceOnPlateau(0.1)},), "steps: plateau never settles"),
        ((cosine(1.0, 10), 0), "steps must be an integer >= 1"),
        (({},), "must not be empty"),
        (([lambda k: 1.0], 10), "must be a ravine schedule"),
        (("cosine",), "schedules must be"),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        schedule_figure(*args)


def test_matplotlib_is_imported_only_to_draw():
    code = "import sys, ravine.report.schedule_plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
