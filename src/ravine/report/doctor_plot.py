"""The doctor's figure: the loss curve with each finding's step span marked, and the raw gradient norm below.

It draws what the doctor recorded (a :class:`~ravine.diagnose.trace.Trace`) and concluded (a
:class:`~ravine.diagnose.findings.Report`); it computes nothing but the window medians it shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ravine.diagnose import stats
from ravine.diagnose import trace as T
from ravine.diagnose.findings import KINDS, Report
from ravine.report.style import DPI, EXTRA, FONT_SIZE, OKABE_ITO

KIND_COLOR = dict(
    zip(
        KINDS,
        (
            OKABE_ITO[3],
            OKABE_ITO[1],
            OKABE_ITO[5],
            OKABE_ITO[7],
            OKABE_ITO[4],
            OKABE_ITO[0],
            OKABE_ITO[2],
            EXTRA[0],
            EXTRA[4],
            EXTRA[3],
        ),
        strict=True,
    )
)
"""One colour per kind of finding (Okabe-Ito first, readable with common colour blindness)."""

_ALPHA = {"info": 0.10, "warning": 0.18, "error": 0.28}


def _log_scale(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return bool(v.size and v.min() > 0 and v.max() / v.min() > 30)


def plot_report(trace: T.Trace, report: Report, path: str | Path | None = None, title: str | None = None) -> Figure:
    """Draw the annotated loss curve; save it as PNG when ``path`` is given.

    Args:
        trace: the run's series (``loss``, optionally ``val_loss``, ``grad_norm``, ``lr``).
        report: the findings whose spans are shaded.
        path: where to write the PNG (None: only return the figure).
        title: figure title (default: the optimiser and the number of steps).

    Returns:
        The matplotlib ``Figure``.
    """
    has_grad = trace.has(T.GRAD_NORM)
    fig = Figure(figsize=(8.0, 5.6 if has_grad else 4.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(
        2 if has_grad else 1,
        1,
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1.4]} if has_grad else None,
    )[:, 0]
    ax = axes[0]
    steps, loss = trace.get(T.LOSS)
    finite = np.isfinite(loss)
    ax.plot(steps[finite], loss[finite], color="#9A9A9A", lw=0.6, alpha=0.6, label="training loss (per step)")
    width = max(1, int(finite.sum()) // 50)
    if width > 1:
        ls, lv = stats.window_levels(steps[finite], loss[finite], width)
        ax.plot(ls, lv, color="#000000", lw=1.6, label=f"median of {width} steps")
    if trace.has("val_loss"):
        vs, vl = trace.get("val_loss")
        ax.plot(vs, vl, "o-", color=OKABE_ITO[0], ms=3.5, lw=1.2, label="validation loss")
    if _log_scale(loss) or (trace.has("val_loss") and _log_scale(trace.get("val_loss")[1])):
        ax.set_yscale("log")
    if (~finite).any():  # non-finite losses have no height: mark them along the top edge
        ax.plot(
            steps[~finite],
            np.full(int((~finite).sum()), 0.985),
            "x",
            color=KIND_COLOR["divergence"],
            ms=5,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            label="non-finite loss",
        )
    ax.set_ylabel("loss")
    for a in axes:
        for f in report.findings:
            a.axvspan(
                f.first_step,
                max(f.last_step, f.first_step + 1),
                color=KIND_COLOR[f.kind],
                alpha=_ALPHA[f.severity],
                lw=0,
            )
    for i, f in enumerate(report.findings):
        ax.annotate(
            f"{f.kind} ({f.severity})",
            xy=(f.first_step, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12 - 11 * i),
            textcoords="offset points",
            fontsize=FONT_SIZE - 1,
            color=KIND_COLOR[f.kind],
            fontweight="bold" if f.severity == "error" else "normal",
        )
    handles, labels = ax.get_legend_handles_labels()
    for kind in dict.fromkeys(f.kind for f in report.findings):
        handles.append(Patch(color=KIND_COLOR[kind], alpha=0.35))
        labels.append(kind)
    ax.legend(handles, labels, fontsize=FONT_SIZE - 1, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if has_grad:
        gs, g = trace.get(T.GRAD_NORM)
        ok = np.isfinite(g) & (g > 0)
        axes[1].plot(gs[ok], g[ok], color=OKABE_ITO[3], lw=0.7, label="raw gradient norm")
        axes[1].set_yscale("log")
        axes[1].set_ylabel("grad norm\n(before clipping)")
    axes[-1].set_xlabel("step")
    for a in axes:
        a.grid(True, alpha=0.25, lw=0.5)
        a.tick_params(labelsize=FONT_SIZE)
    meta = report.meta or trace.meta
    name = meta.get("optimizer") or meta.get("source", "run")
    lr = (meta.get("settings") or {}).get("lr")
    if isinstance(lr, (int, float)):
        name = f"{name} (lr {lr:g})"
    verdict = "no problems found" if not report.findings else ", ".join(report.kinds("info"))
    fig.suptitle(title or f"ravine doctor: {name}, {report.steps} steps -- {verdict}", fontsize=FONT_SIZE + 1)
    if path is not None:
        fig.savefig(path, format="png")
    return fig
