"""An animated GIF of the optimisers' paths growing step by step on the contour map.

The terrain, markers and legend are drawn once; each frame restores that background and draws only the paths
(matplotlib's blitting), so a frame costs milliseconds. Frames are spaced more densely early on, where paths move
most; every frame shows its step number, and the last one holds for two seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ravine.lab.suite import LandscapeResult
from ravine.report import style
from ravine.report.landscape_plots import Surface, draw_terrain, figure, shown_panels, visible_path


def frame_steps(steps: int, frames: int) -> list[int]:
    """Increasing step indices from 0 to ``steps``, at most ``frames`` of them, quadratically spaced (dense early)."""
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    ks = np.unique(np.round(steps * np.linspace(0.0, 1.0, frames) ** 2).astype(int))
    return [int(k) for k in ks]


def paths_gif(
    result: LandscapeResult,
    surface: Surface,
    path: str | Path,
    *,
    start: int = 0,
    frames: int = 48,
    size: tuple[int, int] = (720, 640),
    frame_ms: int = 80,
) -> Path:
    """Write the animation of the reported runs from ``start`` (tuned learning rates when tuned) to ``path``.

    Args:
        result: a landscape comparison of a 2-D landscape.
        surface: the landscape's surface grid.
        path: the GIF file to write.
        start: which start's runs to show.
        frames: number of frames at most (>= 2).
        size: (width, height) in pixels.
        frame_ms: time per frame in milliseconds (the last frame holds 2 s).

    Returns:
        The path written.
    """
    land = result.landscape
    _, recs = shown_panels(result, start)[0]
    fig = figure(size)
    ax = fig.subplots()
    draw_terrain(ax, land, surface)
    tracks = []
    for k, rec in enumerate(recs):
        color = style.color(rec.optimizer, k)
        pts = visible_path(land, rec.trajectory.path[: rec.outcome.judged_steps + 1])
        (line,) = ax.plot(
            [],
            [],
            color=color,
            lw=1.8,
            label=f"{rec.optimizer} (lr {rec.lr:g})",
            animated=True,
            solid_capstyle="round",
            gid=f"path:{rec.optimizer}",
        )
        (head,) = ax.plot([], [], "o", ms=6.5, mfc=color, mec="black", mew=0.6, animated=True, zorder=8)
        tracks.append((pts, line, head))
    ax.plot(*result.starts[start][:2], marker="o", ms=7, mfc="white", mec="black", mew=1.0, ls="none", zorder=7)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.11),
        ncol=min(len(recs), 3),
        frameon=False,
        fontsize=style.FONT_SIZE - 1,
    )
    ax.set_title(land.title, fontsize=style.FONT_SIZE + 2, fontweight="bold")
    counter = ax.text(
        0.02,
        0.97,
        "",
        transform=ax.transAxes,
        ha="left",
        va="top",
        animated=True,
        zorder=9,
        fontsize=style.FONT_SIZE,
        bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.6"},
    )
    canvas = fig.canvas
    canvas.draw()
    background = canvas.copy_from_bbox(fig.bbox)
    images = []
    for k in frame_steps(result.steps, frames):
        canvas.restore_region(background)
        for pts, line, head in tracks:
            shown = pts[: k + 1]
            line.set_data(shown[:, 0], shown[:, 1])
            head.set_data(shown[-1:, 0], shown[-1:, 1])
            ax.draw_artist(line)
            ax.draw_artist(head)
        counter.set_text(f"step {k} / {result.steps}")
        ax.draw_artist(counter)
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    palette = images[-1].quantize(colors=255, method=Image.Quantize.FASTOCTREE)
    quantized = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    path = Path(path)
    durations = [frame_ms] * (len(quantized) - 1) + [2000]
    quantized[0].save(path, save_all=True, append_images=quantized[1:], duration=durations, loop=0, disposal=1)
    return path
