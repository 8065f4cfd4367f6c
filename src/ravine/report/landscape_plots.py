"""Figures of the landscape lab: paths on the contour map, loss per step, learning-rate effects, an overview.

Every function draws records of :mod:`ravine.lab.suite` (and a landscape's :meth:`surface`) and returns a
``matplotlib.figure.Figure`` on the Agg canvas; :func:`save` writes it at exactly the requested pixel size.
Nothing here computes a result: labels such as "oscillating" are read from each run's measured outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LinearSegmentedColormap, LogNorm, Normalize
from matplotlib.figure import Figure

from ravine.lab.landscapes.base import Landscape
from ravine.lab.suite import LandscapeResult, Record
from ravine.report import style

Surface = tuple[np.ndarray, np.ndarray, np.ndarray]

#: The terrain under the paths: light where f is low, so that paths (which end there) stand out.
TERRAIN = LinearSegmentedColormap.from_list("ravine-terrain", ["#fefdfa", "#efebe2", "#dcd5c5", "#c2b8a2"])
CONTOUR_LINES = "#7d7462"

#: One colour per learning-rate effect (blue: too small ... vermilion: diverging), Okabe-Ito.
EFFECT_COLORS = {
    "too small": "#0072B2",
    "stuck": "#CC79A7",
    "right": "#009E73",
    "oscillating": "#E69F00",
    "diverging": "#D55E00",
}


def figure(size: tuple[int, int], dpi: int = style.DPI) -> Figure:
    """An empty figure of ``size = (width, height)`` pixels with constrained layout, on the Agg canvas."""
    w, h = size
    if w < 100 or h < 100:
        raise ValueError(f"figure size must be at least 100 x 100 pixels, got {w} x {h}")
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` (PNG, or any format by suffix) at its own size and resolution; returns the path."""
    path = Path(path)
    fig.savefig(path, dpi=fig.dpi, facecolor="white")
    return path


# -- building blocks ------------------------------------------------------------------------------------------
def draw_terrain(ax: Axes, land: Landscape, surface: Surface, *, landmarks: bool = True) -> None:
    """Filled contours of f over the domain (log-spaced levels of ``f - f_star`` where the landscape asks for
    them), the known minima (stars: global, diamonds: local) and saddle points (crosses)."""
    xs, ys, z = surface
    if land.contours == "log" and land.f_star is not None:
        gap = np.where(np.isfinite(z), z - land.f_star, np.nan)
        hi = float(np.nanmax(gap))
        positive = gap[gap > 0]
        lo = max(float(np.percentile(positive, 0.2)) if positive.size else hi * 1e-6, hi * 1e-7)
        levels = np.geomspace(lo, hi, 17)
        shown, norm = np.clip(gap, lo, hi), LogNorm(lo, hi)
    else:
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        levels = np.linspace(lo, hi, 21)
        shown, norm = z, Normalize(lo, hi)
    ax.contourf(xs, ys, shown, levels=levels, cmap=TERRAIN, norm=norm, zorder=0)
    ax.contour(xs, ys, shown, levels=levels, colors=CONTOUR_LINES, linewidths=0.35, alpha=0.55, zorder=1)
    if landmarks:
        for m in land.landmarks():
            if m.kind == "global minimum":
                ax.plot(*m.point, marker="*", ms=13, mfc="#F0E442", mec="black", mew=0.8, ls="none", zorder=6)
            elif m.kind == "local minimum":
                ax.plot(*m.point, marker="D", ms=3.5, mfc="white", mec="#4d4636", mew=0.7, ls="none", zorder=2)
            else:
                ax.plot(*m.point, marker="P", ms=9, mfc="white", mec="black", mew=0.8, ls="none", zorder=6)
    (x0, x1), (y0, y1) = land.box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ratio = (y1 - y0) / (x1 - x0)
    if 1 / 3 <= ratio <= 3:
        ax.set_aspect("equal")
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.tick_params(labelsize=style.FONT_SIZE - 1)


def visible_path(land: Landscape, path: np.ndarray) -> np.ndarray:
    """The path up to (and including) its first point that is not finite or lies far outside the box; that
    point is pulled back to the edge of the far region, so the line shows where the run went."""
    ok = np.all(np.isfinite(path), axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        span = land.highs - land.lows
        far = np.any((path < land.lows - 10 * span) | (path > land.highs + 10 * span), axis=1)
    bad = np.flatnonzero(~ok | far)
    if not bad.size:
        return path
    out = path[: bad[0] + 1].copy()
    if not ok[bad[0]]:
        return out[:-1]
    out[-1] = np.clip(out[-1], land.lows - 10 * span, land.highs + 10 * span)
    return out


def draw_path(ax: Axes, land: Landscape, rec: Record, color: str, label: str, *, lw: float = 1.7) -> None:
    """One run's path: a line through its iterates (dots when there are few), a ring at the start, and at the
    end a dot (or a cross if it diverged). The line's gid is ``path:<optimizer>``."""
    judged = rec.trajectory.path[: rec.outcome.judged_steps + 1]
    pts = visible_path(land, judged)
    dots = len(pts) <= 80
    ax.plot(
        pts[:, 0],
        pts[:, 1],
        color=color,
        lw=lw,
        label=label,
        marker="o" if dots else None,
        ms=2.2,
        zorder=4,
        solid_capstyle="round",
        gid=f"path:{rec.optimizer}",
    )
    ax.plot(*pts[0], marker="o", ms=7, mfc="white", mec="black", mew=1.0, ls="none", zorder=7)
    end = "X" if rec.outcome.diverged else "o"
    ax.plot(*pts[-1], marker=end, ms=6.5, mfc=color, mec="black", mew=0.6, ls="none", zorder=8)


def panel_ratio(land: Landscape) -> float:
    """Height over width of a contour panel: the domain's, kept between 0.55 and 1.1."""
    (x0, x1), (y0, y1) = land.box[:2]
    return min(max((y1 - y0) / (x1 - x0), 0.55), 1.1)


def run_label(rec: Record) -> str:
    """``"adam  lr 0.5: target at step 618"``: the optimiser, its learning rate and what the run achieved."""
    return f"{rec.optimizer}  lr {rec.lr:g}: {outcome_text(rec)}"


def outcome_text(rec: Record) -> str:
    o = rec.outcome
    if o.diverged:
        return "diverged"
    if o.reached:
        return f"escaped at step {o.steps_to_target}" if o.gap is None else f"target at step {o.steps_to_target}"
    if o.gap is not None:
        return f"f − f* = {o.gap:.1e}"
    return f"f = {o.final_value:.3g}"


def _start_text(point: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in point) + ")"


def shown_panels(result: LandscapeResult, start: int) -> list[tuple[str, list[Record]]]:
    """What the paths figure shows: tuned and default learning rates side by side, or each optimiser at its
    best given learning rate."""
    if result.tuning:
        n = len(result.tuning[0].grid)
        return [
            (f"Tuned learning rate (best of {n} by the stated criterion)", result.select(source="tuned", start=start)),
            ("Each optimiser's default learning rate", result.select(source="default", start=start)),
        ]
    best = {s.optimizer: s.lr for s in result.standings}
    chosen = [r for r in result.select(source="given", start=start) if r.lr == best[r.optimizer]]
    return [("Given learning rate" + ("s (best shown)" if len({r.lr for r in result.records}) > 1 else ""), chosen)]


# -- figures ----------------------------------------------------------------------------------------------------
def paths_figure(
    result: LandscapeResult, surface: Surface, *, start: int = 0, size: tuple[int, int] | None = None
) -> Figure:
    """Every optimiser's path on the contour map: tuned learning rate beside the default one."""
    land = result.landscape
    panels = shown_panels(result, start)
    rows = -(-max(len(recs) for _, recs in panels) // 2)  # legend rows under each panel
    size = size or (780 * len(panels), round(700 * panel_ratio(land)) + 170 + 24 * rows)
    fig = figure(size)
    # a subfigure per panel, so that the layout engine makes room for the legend below each map
    for sub, (title, recs) in zip(fig.subfigures(1, len(panels), squeeze=False)[0], panels, strict=True):
        ax = sub.subplots()
        draw_terrain(ax, land, surface)
        for k, rec in enumerate(recs):
            draw_path(ax, land, rec, style.color(rec.optimizer, k), run_label(rec))
        ax.set_title(title, fontsize=style.FONT_SIZE + 1)
        sub.legend(
            loc="outside lower center",
            ncol=2,
            fontsize=style.FONT_SIZE - 1,
            frameon=False,
            handlelength=1.6,
            columnspacing=1.2,
        )
    fig.suptitle(
        f"{land.title}: {result.steps} steps from {_start_text(result.starts[start])}"
        + (f", gradient noise σ = {result.noise:g}" if result.noise else ""),
        fontsize=style.FONT_SIZE + 3,
        fontweight="bold",
    )
    return fig


def loss_figure(result: LandscapeResult, *, start: int = 0, size: tuple[int, int] = (1400, 560)) -> Figure:
    """``f - f*`` (log scale) and the gradient norm per step; solid: the reported lr, dashed: the default lr."""
    land = result.landscape
    fig = figure(size)
    ax_f, ax_g = fig.subplots(1, 2)
    panels = shown_panels(result, start)
    floor_f = land.tol * 1e-8
    for p, (_, recs) in enumerate(panels):
        for k, rec in enumerate(recs):
            t = rec.trajectory
            end = rec.outcome.judged_steps + 1
            steps = np.arange(end)
            color = style.color(rec.optimizer, k)
            kw = {
                "color": color,
                "lw": 1.6 if p == 0 else 1.1,
                "ls": "-" if p == 0 else "--",
                "alpha": 1 if p == 0 else 0.75,
            }
            values = t.values[:end]
            y = np.maximum(values - land.f_star, floor_f) if land.f_star is not None else values
            label = run_label(rec) if p == 0 else None
            ax_f.plot(steps, y, label=label, gid=f"loss:{rec.optimizer}" if p == 0 else None, **kw)
            ax_g.plot(steps, np.maximum(t.grad_norms[:end], 1e-300), **kw)
            if rec.outcome.diverged:
                last = np.flatnonzero(np.isfinite(y))
                if last.size:
                    ax_f.plot(steps[last[-1]], y[last[-1]], marker="X", color=color, mec="black", mew=0.5, ms=7)
    if land.f_star is not None:
        ax_f.set_yscale("log")
        ax_f.set_ylim(bottom=floor_f)
        ax_f.set_ylabel("f − f*  (log scale)")
        level, label, va = land.tol, f" target: f − f* ≤ {land.tol:g}", "bottom"
    else:
        ax_f.set_ylabel("f")
        level, label, va = land.target, f" escaped: f ≤ {land.target:g}", "top"
    ax_f.axhline(level, color="black", lw=0.8, ls=":")
    ax_f.text(0.99, level, label, transform=ax_f.get_yaxis_transform(), ha="right", va=va, fontsize=style.FONT_SIZE - 1)
    ax_g.set_yscale("log")
    ax_g.set_ylabel("‖∇f‖  (log scale)")
    for ax, title in ((ax_f, "Loss"), (ax_g, "Gradient norm")):
        ax.set_xlabel("step")
        ax.set_title(title, fontsize=style.FONT_SIZE + 1)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlim(left=0)
    styles = "solid: tuned learning rate, dashed: default learning rate" if len(panels) == 2 else "given learning rate"
    fig.suptitle(
        f"{land.title} from {_start_text(result.starts[start])} ({styles})",
        fontsize=style.FONT_SIZE + 2,
        fontweight="bold",
    )
    fig.legend(loc="outside right center", fontsize=style.FONT_SIZE - 1, frameon=False)
    return fig


def lr_effects_figure(
    result: LandscapeResult, optimizer: str, *, start: int = 0, size: tuple[int, int] | None = None
) -> Figure:
    """One optimiser at several learning rates, each labelled by the effect its run shows (too small, right,
    oscillating, diverging, stuck), with all their loss curves in the last panel."""
    land = result.landscape
    recs = sorted(result.select(optimizer=optimizer, start=start), key=lambda r: r.lr)
    if not recs:
        raise ValueError(f"no runs of {optimizer!r} in this result")
    contour = land.dim == 2
    n = len(recs) + 1 if contour else 1
    cols = n if n <= 6 else 4
    rows = -(-n // cols)
    size = size or (400 * cols, round((360 * panel_ratio(land) + 110) * rows) + 50)
    fig = figure(size)
    grid = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in grid[n:]:
        ax.set_visible(False)
    if contour:
        surface = land.surface()
        for ax, rec in zip(grid, recs, strict=False):
            color = EFFECT_COLORS[rec.outcome.effect]
            draw_terrain(ax, land, surface)
            draw_path(ax, land, rec, color, rec.outcome.effect)
            ax.set_title(
                f"lr = {rec.lr:g}\n{rec.outcome.effect}: {effect_detail(rec)}",
                color=color,
                fontsize=style.FONT_SIZE + 1,
                fontweight="bold",
            )
    ax = grid[n - 1]
    floor = land.tol * 1e-8
    for rec in recs:
        end = rec.outcome.judged_steps + 1
        v = rec.trajectory.values[:end]
        y = np.maximum(v - land.f_star, floor) if land.f_star is not None else v
        ax.plot(
            np.arange(end),
            y,
            color=EFFECT_COLORS[rec.outcome.effect],
            lw=1.5,
            label=f"lr {rec.lr:g}: {rec.outcome.effect}",
            gid=f"effect:{rec.lr:g}",
        )
    if land.f_star is not None:
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor)
        ax.set_ylabel("f − f*  (log scale)")
    else:
        ax.set_ylabel("f")
    ax.set_xlabel("step")
    ax.set_title("Loss per step", fontsize=style.FONT_SIZE + 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=style.FONT_SIZE - 1, frameon=False)
    fig.suptitle(
        f"Learning-rate effects: {optimizer} on {land.title}, {result.steps} steps (labels measured from each run)",
        fontsize=style.FONT_SIZE + 3,
        fontweight="bold",
    )
    return fig


def effect_detail(rec: Record) -> str:
    """Why the run got its label, in numbers: ``"target at step 12"``, ``"62% of steps turn back"``, ..."""
    o = rec.outcome
    if o.effect == "diverging":
        return "non-finite or far out of the box"
    if o.effect == "oscillating":
        return f"{o.reversals:.0%} of steps turn back"
    if o.effect == "stuck":
        return f"ended at a {o.minimum}"
    return outcome_text(rec)


def overview_figure(
    results: Sequence[LandscapeResult], surfaces: Sequence[Surface | None], *, size: tuple[int, int] | None = None
) -> Figure:
    """All 2-D landscapes of a comparison in one grid, each optimiser's reported path from the first start."""
    shown = [(r, s) for r, s in zip(results, surfaces, strict=True) if s is not None]
    if not shown:
        raise ValueError("an overview needs at least one 2-D landscape")
    cols = min(len(shown), 3)
    rows = -(-len(shown) // cols)
    size = size or (600 * cols, 560 * rows + 90)
    fig = figure(size)
    grid = fig.subplots(rows, cols, squeeze=False).ravel()
    handles: dict[str, object] = {}
    for ax, (result, surface) in zip(grid, shown, strict=False):
        draw_terrain(ax, result.landscape, surface)
        _, recs = shown_panels(result, 0)[0]
        for k, rec in enumerate(recs):
            draw_path(ax, result.landscape, rec, style.color(rec.optimizer, k), rec.optimizer, lw=1.4)
        for line in ax.get_lines():
            if line.get_gid() and line.get_label() not in handles:
                handles[line.get_label()] = line
        winner = result.standings[0]
        ax.set_title(
            f"{result.landscape.title}\nbest: {winner.optimizer} (lr {winner.lr:g})", fontsize=style.FONT_SIZE + 1
        )
    for ax in grid[len(shown) :]:
        ax.set_visible(False)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="outside lower center",
        ncol=min(len(handles), 8),
        fontsize=style.FONT_SIZE + 1,
        frameon=False,
    )
    fig.suptitle(
        "Optimisers on test landscapes, each at its "
        + ("tuned learning rate" if shown[0][0].tuning else "best given learning rate"),
        fontsize=style.FONT_SIZE + 4,
        fontweight="bold",
    )
    return fig
