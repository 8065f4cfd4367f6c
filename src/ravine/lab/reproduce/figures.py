"""The paper's figures from the reproduction's numbers (:mod:`.analysis`), one PNG each; nothing is computed here.

* ``figure1_logreg.png`` -- training cost against epochs for MNIST and IMDB logistic regression (figure 1; linear
  y axis, as there).
* ``figure2_mlp.png`` -- the MLP with dropout (figure 2a; log y axis, as there).
* ``figure3_cnn.png`` -- the CNN: the first three epochs (linear) and the whole run (log), figure 3's two panels.
* ``figure4_bias_correction.png`` -- loss against log10(alpha), with correction (red) and without (green), one
  column per beta2, after the first epoch (top) and at the end (bottom): figure 4's layout.

Comparison curves are the training objective (the mean minibatch cost between evaluation points: four points in
the first epoch, then one per epoch), the seeds' mean with a band of one sd; the legend gives each optimiser's
chosen alpha. Figure 4 is the eval-mode cost at the epoch ends.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ravine.report.style import DPI, FONT_SIZE, color


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=DPI)


def _curves(ax: Any, numbers: dict[str, Any], log_y: bool, until: float | None = None) -> None:
    for i, (name, o) in enumerate(numbers["optimizers"].items()):
        c = o["curve"]
        if c is None:
            continue
        pts = [
            (e, m, s or 0.0)
            for e, m, s in zip(c["epoch"], c["mean"], c["sd"], strict=True)
            if m is not None and (until is None or e <= until + 1e-9)
        ]
        if not pts:
            continue
        x, m, s = zip(*pts, strict=True)
        col = color(name, i)
        ax.plot(x, m, color=col, lw=1.4, label=f"{o['legend']} (alpha {o['alpha']:g})")
        lo = [max(a - b, a * 0.5) if log_y else a - b for a, b in zip(m, s, strict=True)]
        hi = [a + b for a, b in zip(m, s, strict=True)]
        ax.fill_between(x, lo, hi, color=col, alpha=0.18, lw=0)
    if log_y:
        ax.set_yscale("log")
    else:  # the range after the first epoch, where the optimisers differ (the first points are far above it)
        later = [v for ln in ax.get_lines() for x, v in zip(*ln.get_data(), strict=True) if x >= 1.0 and v == v]
        if later:
            ax.set_ylim(0.95 * min(later), min(1.6 * max(later), ax.get_ylim()[1]))
    ax.set_xlabel("iterations over entire dataset (epochs)")
    ax.set_ylabel("training cost (mean minibatch objective)")
    ax.grid(alpha=0.3)
    if ax.get_lines():  # a partial result may have no seed runs yet
        ax.legend(fontsize=FONT_SIZE - 1)


def _title(n: dict[str, Any]) -> str:
    sub = f", {n['subset']:,} examples" if n["subset"] else ""
    return textwrap.fill(n["title"], 64) + f"\n(figure {n['figure']}; {n['epochs']} epochs{sub})"


def logreg(mnist: dict[str, Any], imdb: dict[str, Any], path: Path) -> None:
    fig = Figure(figsize=(11, 4.2))
    for ax, n in zip(fig.subplots(1, 2), (mnist, imdb), strict=True):
        _curves(ax, n, log_y=False)
        ax.set_title(_title(n), fontsize=FONT_SIZE)
    fig.tight_layout()
    _save(fig, path)


def mlp(numbers: dict[str, Any], path: Path) -> None:
    fig = Figure(figsize=(6, 4.4))
    ax = fig.subplots()
    _curves(ax, numbers, log_y=True)
    ax.set_title(_title(numbers), fontsize=FONT_SIZE)
    fig.tight_layout()
    _save(fig, path)


def cnn(numbers: dict[str, Any], path: Path) -> None:
    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    _curves(left, numbers, log_y=False, until=min(3, numbers["epochs"]))
    left.set_title("first three epochs (figure 3, left)", fontsize=FONT_SIZE)
    _curves(right, numbers, log_y=True)
    right.set_title(_title(numbers), fontsize=FONT_SIZE)
    fig.tight_layout()
    _save(fig, path)


def bias_correction(study: dict[str, Any], path: Path) -> None:
    """Figure 4's grid; a collapsed or diverged mean is drawn at its value (or the top edge, as a cross)."""
    betas = study["beta2s"]
    fig = Figure(figsize=(3.6 * len(betas), 6.4))
    axes = fig.subplots(2, len(betas), squeeze=False, sharex=True)
    finite = [c[k]["mean"] for c in study["cells"] for k in ("after_epoch_1", "final") if c[k]["mean"] is not None]
    top = max([*finite, study["collapse_loss"]]) * 1.5
    for row, (key, when) in enumerate(
        (("after_epoch_1", "after epoch 1"), ("final", f"after {study['epochs']} epochs"))
    ):
        for col, b2 in enumerate(betas):
            ax = axes[row][col]
            for bc, colour, label in ((True, "#D62728", "bias correction"), (False, "#2CA02C", "no bias correction")):
                cells = [c for c in study["cells"] if c["beta2"] == b2 and c["bias_correction"] == bc and c["n"]]
                x = [math.log10(c["alpha"]) for c in cells]
                y = [top if c[key]["missing"] else c[key]["mean"] for c in cells]
                ax.plot(x, y, color=colour, marker="o", ms=3.5, lw=1.3, label=label)
                bad = [(xi, top) for xi, c in zip(x, cells, strict=True) if c[key]["missing"]]
                if bad:
                    ax.plot(*zip(*bad, strict=True), ls="none", marker="x", ms=8, color=colour)
            ax.axhline(study["collapse_loss"], color="0.5", lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_ylim(top=top * 1.2)
            ax.set_title(f"beta1 = {study['beta1']:g}, beta2 = {b2:g}, {when}", fontsize=FONT_SIZE)
            ax.grid(alpha=0.3)
            if row == 1:
                ax.set_xlabel("log10(alpha)")
            if col == 0:
                ax.set_ylabel("training cost")
    axes[0][0].legend(fontsize=FONT_SIZE - 1)
    fig.suptitle(f"{study['title']} (figure 4; dotted: collapse level, crosses: diverged)", fontsize=FONT_SIZE)
    fig.tight_layout()
    _save(fig, path)


def draw(numbers: dict[str, dict[str, Any]], study: dict[str, Any], out: Path) -> list[dict[str, str]]:
    """Draw every figure whose runs exist into ``out``; returns the ``figures`` list of results.json."""
    figs = []
    if "mnist-logreg" in numbers and "imdb-logreg" in numbers:
        logreg(numbers["mnist-logreg"], numbers["imdb-logreg"], out / "figure1_logreg.png")
        figs.append(
            {
                "file": "figure1_logreg.png",
                "title": "Figure 1: logistic regression",
                "caption": "Training cost (the mean minibatch objective of each epoch) against epochs, MNIST "
                "(alpha / sqrt(epoch), L2) and IMDB bag of words (50 % input dropout); mean of the seeds, band one sd.",
            }
        )
    if "mnist-mlp" in numbers:
        mlp(numbers["mnist-mlp"], out / "figure2_mlp.png")
        figs.append(
            {
                "file": "figure2_mlp.png",
                "title": "Figure 2a: multilayer network with dropout",
                "caption": "784-1000-1000-10 ReLU MLP, dropout 0.5, constant alpha; training cost (log scale).",
            }
        )
    cnn_name = next((k for k in ("cifar10-cnn", "fmnist-cnn") if k in numbers), None)
    if cnn_name:
        cnn(numbers[cnn_name], out / "figure3_cnn.png")
        figs.append(
            {
                "file": "figure3_cnn.png",
                "title": "Figure 3: convolutional network",
                "caption": f"{numbers[cnn_name]['title']}: first three epochs (left) and the whole run (right, log).",
            }
        )
    bias_correction(study, out / "figure4_bias_correction.png")
    figs.append(
        {
            "file": "figure4_bias_correction.png",
            "title": "Figure 4: bias-correction terms",
            "caption": "Training cost of the MNIST MLP against log10(alpha), with (red) and without (green) bias "
            "correction, beta1 = 0.9; top after the first epoch, bottom at the end.",
        }
    )
    return figs
