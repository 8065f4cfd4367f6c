"""The annotated loss curve: one shaded span per finding, in its kind's colour, over both panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgba

from ravine.diagnose import Finding, Report, Trace
from ravine.report.doctor_plot import KIND_COLOR, plot_report


def test_spans_and_png(tmp_path: Path) -> None:
    t = Trace(meta={"optimizer": "SGD", "settings": {"lr": 0.5}})
    loss = np.exp(-np.arange(200) / 50) + 0.1
    loss[180:] = np.nan
    t.extend("loss", range(200), loss)
    t.extend("grad_norm", range(200), np.ones(200))
    t.extend("val_loss", [0, 100], [1.1, 0.5])
    report = Report(
        (Finding("divergence", "error", 150, 199, "NaN"), Finding("plateau", "warning", 10, 60, "flat")),
        steps=200,
        meta=t.meta,
    )
    fig = plot_report(t, report, tmp_path / "doctor.png")
    assert (tmp_path / "doctor.png").read_bytes()[:4] == b"\x89PNG"
    loss_ax, grad_ax = fig.axes[:2]
    for ax in (loss_ax, grad_ax):
        colours = [p.get_facecolor()[:3] for p in ax.patches]
        assert to_rgba(KIND_COLOR["divergence"])[:3] in colours and to_rgba(KIND_COLOR["plateau"])[:3] in colours
    assert loss_ax.get_yscale() == "linear" and grad_ax.get_yscale() == "log"
    assert "SGD (lr 0.5)" in fig.get_suptitle()
    assert len(set(KIND_COLOR.values())) == len(KIND_COLOR)  # ten kinds, ten colours
