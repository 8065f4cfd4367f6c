"""The range test's picture: loss against learning rate on a log axis, each suggestion marked and named, the point
where the sweep stopped, and optionally another finder's curve beside (torch-lr-finder in the benchmark).

Drawn from :class:`~ravine.lr_finder.LRFinderResult` s or their ``to_dict()`` records; nothing is computed here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ravine.lr_finder.result import LRFinderResult
from ravine.report.style import DPI, FONT_SIZE, color

SHORT = {
    "completed": "ran every step",
    "diverged": "stopped, loss > stop_factor x best",
    "non-finite": "stopped, loss not finite",
}
MARKERS = {"steepest": "v", "valley": "o", "minimum/10": "s", "edge": "^"}


def _result(r: LRFinderResult | Mapping[str, Any]) -> LRFinderResult:
    return r if isinstance(r, LRFinderResult) else LRFinderResult.from_dict(dict(r))


def draw(
    ax: Any,
    result: LRFinderResult | Mapping[str, Any],
    *,
    name: str = "",
    index: int = 0,
    reference: Mapping[str, Any] | None = None,
) -> None:
    """Draw one range test on ``ax``.

    Args:
        ax: a matplotlib axes.
        result: the range test.
        name: the optimiser's name (colour and title).
        index: its position among the optimisers drawn (colour of unknown names).
        reference: another finder on the same model and batches: ``{"label", "lrs", "losses", "lr"}``
            (its curve dashed, its suggestion as a star).
    """
    r = _result(result)
    c = color(name.rsplit(": ", 1)[-1], index) if name else "#0072B2"  # "case: optimizer" names too
    ax.plot(r.lrs, r.losses, color=c, alpha=0.3, lw=0.8, label="raw loss")
    ax.plot(r.lrs, r.smoothed, color=c, lw=1.0, ls=":", label=f"debiased EMA, beta {r.sweep.smooth:g} (stop rule)")
    ax.plot(r.lrs, r.trend, color=c, lw=1.8, label="centred trend (suggestions)")
    if reference is not None:
        ax.plot(reference["lrs"], reference["losses"], color="#000000", lw=1.0, ls="--", label=reference["label"])
        if reference.get("lr") is not None:
            y = _at(reference["lrs"], reference["losses"], reference["lr"])
            ax.plot(
                [reference["lr"]],
                [y],
                marker="*",
                ms=11,
                color="#000000",
                ls="none",
                label=f"{reference['label']}: {reference['lr']:.2g}",
            )
    for k, (rule, s) in enumerate(r.suggestions.items()):
        default = rule == r.sweep.rule
        mc = "#D55E00" if default else "#555555"
        ax.axvline(s.lr, color=mc, lw=0.8 if default else 0.5, ls="-" if default else ":", zorder=1)
        ax.plot(
            [s.lr],
            [s.loss],
            marker=MARKERS.get(rule, "D"),
            ms=7 if default else 5,
            color=mc,
            ls="none",
            zorder=3,
            label=f"{rule}{' (default)' if default else ''}: {s.lr:.2g}",
        )
        ax.annotate(
            rule,
            (s.lr, s.loss),
            xytext=(3, 6 + 9 * (k % 3)),
            textcoords="offset points",
            fontsize=FONT_SIZE - 2,
            color=mc,
        )
    if r.stop != "completed":
        i = len(r.lrs) - 1
        y = r.losses[i] if math.isfinite(r.losses[i]) else _finite_max(r.trend)
        ax.plot(
            [r.lrs[i]],
            [y],
            marker="x",
            ms=9,
            mew=2,
            color="#CC0000",
            ls="none",
            label=f"{r.stop} at lr {r.lrs[i]:.2g} (step {i + 1})",
        )
    ax.set_xscale("log")
    _limits(ax, r)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title(f"{name or r.optimizer} ({r.family} family): {SHORT[r.stop]}", fontsize=FONT_SIZE)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=FONT_SIZE - 3, loc="lower left", framealpha=0.8)
    ax.tick_params(labelsize=FONT_SIZE - 1)


def figure(
    results: Mapping[str, LRFinderResult | Mapping[str, Any]],
    *,
    title: str = "",
    references: Mapping[str, Mapping[str, Any]] | None = None,
) -> Figure:
    """One panel per optimiser (``results`` by name), side by side, up to three per row."""
    names = list(results)
    cols = min(3, max(1, len(names)))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(5.2 * cols, 4.0 * rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, name in enumerate(names):
        draw(
            axes[i // cols][i % cols],
            results[name],
            name=name,
            index=i,
            reference=None if references is None else references.get(name),
        )
    for j in range(len(names), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=FONT_SIZE + 1)
    return fig


def task_figure(results: Mapping[str, Any]) -> Figure:
    """The range tests of a task comparison run with ``tuning="find"`` (its results document)."""
    return figure(results["lr_finder"], title=f"LR range tests on {results['task']['name']} (tuning seed)")


def save(fig: Figure, path: str | os.PathLike) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path)


def _finite_max(values: Sequence[float]) -> float:
    return max((v for v in values if math.isfinite(v)), default=1.0)


def _at(lrs: Sequence[float], losses: Sequence[float], lr: float) -> float:
    k = min(range(len(lrs)), key=lambda i: abs(math.log(lrs[i]) - math.log(lr)))
    return losses[k]


def _limits(ax: Any, r: LRFinderResult) -> None:
    """y from a little below the lowest loss to a little above the starting level (the blow-up is clipped)."""
    finite = [v for v in r.trend + r.smoothed if math.isfinite(v)]
    if not finite:
        return
    first = r.trend[0]
    low, high = min(finite), max(first, min(max(finite), 1.5 * abs(first) + 1e-12))
    pad = 0.08 * (high - low or abs(high) or 1.0)
    ax.set_ylim(low - pad, high + 3 * pad)
