"""Figures of a task comparison, drawn from its results document (``results.json``); nothing is computed here.

* :func:`learning_curves` -- train loss, validation and test metric against epochs: the tuned rate's mean over
  seeds with its min-max band (solid), the default rate's mean (dashed); the y axes show the range of the last
  three quarters of the run, where optimisers differ.
* :func:`lr_sensitivity` -- final validation metric against the learning rate for every optimiser (tuning seed),
  with the chosen rate ringed, the default rate marked, and diverged runs as crosses on the bottom edge.
"""

from __future__ import annotations

import os
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter
from matplotlib.transforms import blended_transform_factory

from ravine.report.style import DPI, FONT_SIZE, color

_LABELS = {
    "train_loss": "train loss",
    "val_loss": "validation loss",
    "test_loss": "test loss",
    "val_acc": "validation accuracy",
    "test_acc": "test accuracy",
}


def _panels(results: dict[str, Any]) -> list[str]:
    has_acc = results["summary"] and any(
        row["tuned"] and row["tuned"]["final"]["val_acc"]["n"] for row in results["summary"]
    )
    return ["train_loss", "val_acc", "test_acc"] if has_acc else ["train_loss", "val_loss", "test_loss"]


def _title(results: dict[str, Any], what: str) -> str:
    p = results["protocol"]
    batch = "full batch" if p["batch_size"] == "full" else f"batch {p['batch_size']}"
    return f"{results['task']['name']}: {what}  ({p['epochs']} epochs, {batch}, {p['seeds']} seeds)"


def learning_curves(results: dict[str, Any]) -> Figure:
    """Learning curves with seed bands for every optimiser of ``results`` (one panel per metric)."""
    metrics = _panels(results)
    fig = Figure(figsize=(4.0 * len(metrics), 3.6), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(metrics))
    for i, row in enumerate(results["summary"]):
        c = color(row["optimizer"], i)
        for ax, m in zip(axes, metrics, strict=True):
            for part, style in (("tuned", "-"), ("default", "--")):
                agg = row[part]
                if agg is None:
                    continue
                x, band = agg["curve"]["epoch"], agg["curve"][m]
                n = len(band["mean"])
                label = None
                if m == metrics[0]:
                    label = f"{row['optimizer']} lr={agg['lr']:g}" + (" (default)" if part == "default" else "")
                ax.plot(x[:n], _nan(band["mean"]), style, color=c, lw=1.6 if part == "tuned" else 1.0, label=label)
                if part == "tuned" and agg["n"] > 1:
                    ax.fill_between(x[:n], _nan(band["min"]), _nan(band["max"]), color=c, alpha=0.2, lw=0)
    for ax, m in zip(axes, metrics, strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(_LABELS[m])
        ax.grid(True, alpha=0.3)
        if m.endswith("loss"):
            _log_y(ax)
        _zoom(ax, results, m)
        _font(ax)
    fig.suptitle(
        _title(results, "tuned rate (solid, band = min-max over seeds), default rate (dashed)"), fontsize=FONT_SIZE
    )
    fig.legend(
        loc="outside lower center", ncols=min(4, 2 * len(results["summary"])), fontsize=FONT_SIZE - 1, frameon=False
    )
    return fig


def lr_sensitivity(results: dict[str, Any]) -> Figure:
    """Final validation metric of the grid runs against the learning rate, one line per optimiser."""
    metric = "val_acc" if _panels(results)[1] == "val_acc" else "val_loss"
    fig = Figure(figsize=(6.4, 4.2), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    edge = blended_transform_factory(ax.transData, ax.transAxes)
    for i, row in enumerate(results["summary"]):
        c = color(row["optimizer"], i)
        grid = sorted(row["grid"], key=lambda g: g["lr"])
        ok = [g for g in grid if not g["diverged"] and g["select"] is not None]
        ax.plot([g["lr"] for g in ok], [g["select"] for g in ok], "o-", color=c, ms=4, lw=1.4, label=row["optimizer"])
        bad = [g["lr"] for g in grid if g not in ok]
        if bad:  # stacked per optimiser so that crosses at the same rate stay visible
            y = 0.03 + 0.045 * i
            ax.plot(bad, [y] * len(bad), "x", color=c, ms=7, mew=1.6, transform=edge, clip_on=False)
        chosen = [g for g in ok if g["lr"] == row["chosen_lr"]]
        if chosen:
            ax.plot(chosen[0]["lr"], chosen[0]["select"], "o", ms=12, mfc="none", mec=c, mew=1.8)
        dflt = row["default"]
        if dflt and dflt["final"][metric]["mean"] is not None:
            ax.plot(dflt["lr"], dflt["final"][metric]["mean"], "^", color=c, ms=8, mec="black", mew=0.6)
    ax.set_xscale("log")
    if metric == "val_loss":
        _log_y(ax)
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"final {_LABELS[metric]} (tuning seed)")
    ax.grid(True, alpha=0.3)
    _font(ax)
    ax.set_title(
        _title(results, "learning-rate sensitivity") + "\nring: chosen rate; triangle: default rate (mean over seeds); "
        "x: diverged",
        fontsize=FONT_SIZE,
    )
    fig.legend(loc="outside right upper", fontsize=FONT_SIZE - 1, frameon=False)
    return fig


def save(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` as PNG (or any format matplotlib infers from the suffix)."""
    FigureCanvasAgg(fig)
    fig.savefig(path)


def _zoom(ax: Any, results: dict[str, Any], metric: str) -> None:
    """The y range of the curves after a quarter of the run, so that the differences between optimisers are
    visible rather than the first drop from the initial loss; earlier points may leave the axes."""
    later = [
        v
        for row in results["summary"]
        for part in ("tuned", "default")
        if row[part] is not None
        for v in row[part]["curve"][metric]["mean"][len(row[part]["curve"][metric]["mean"]) // 4 :]
        if v is not None
    ]
    if not later:
        return
    lo, hi = min(later), max(later)
    if ax.get_yscale() == "log" and lo > 0:
        pad = (hi / lo) ** 0.08 if hi > lo else 1.05
        ax.set_ylim(lo / pad, hi * pad)
    else:
        pad = 0.08 * (hi - lo) or 0.01
        ax.set_ylim(lo - pad, min(1.0, hi + pad) if metric.endswith("acc") else hi + pad)
    ax.set_ylabel(_LABELS[metric] + " (zoomed)")


def _log_y(ax: Any) -> None:
    """Log scale labelled with plain numbers (0.3, 0.4, 1, 2), minor ticks labelled when the range is short."""
    ax.set_yscale("log")
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    minor = LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5))  # decides which minor ticks get labels
    minor.set_axis(ax.yaxis)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, pos: f"{v:g}" if minor(v, pos) else ""))


def _nan(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def _font(ax: Any) -> None:
    ax.tick_params(which="both", labelsize=FONT_SIZE - 1)
    ax.xaxis.label.set_size(FONT_SIZE)
    ax.yaxis.label.set_size(FONT_SIZE)
