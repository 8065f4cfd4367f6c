"""Writing a landscape comparison's figures to a directory, under predictable names.

For each landscape ``NAME``: ``NAME-paths.png`` (contour map with every path; tuned beside default learning rate),
``NAME-paths.gif`` (the same paths, animated), ``NAME-loss.png`` (f - f* and gradient norm per step) and, when
several learning rates were given, ``NAME-lr-effects-OPTIMIZER.png``; for several landscapes, ``overview.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from ravine.lab.suite import LandscapeResult
from ravine.report.landscape_gif import paths_gif
from ravine.report.landscape_plots import loss_figure, lr_effects_figure, overview_figure, paths_figure, save


def stem(name: str) -> str:
    """A file-name stem for a landscape name: ``"ravine:kappa=1000,n=3"`` -> ``"ravine-kappa1000-n3"``."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name.replace("=", "")).strip("-")


def figure_count(results: Sequence[LandscapeResult], *, gif: bool = True) -> int:
    """How many files :func:`write_figures` will write (for progress bars)."""
    n = 0
    for r in results:
        n += 1 + (1 + gif if r.landscape.dim == 2 else 0)
        n += sum(len({rec.lr for rec in r.select(optimizer=o)}) >= 2 for o in r.optimizers) if not r.tuning else 0
    return n + (sum(r.landscape.dim == 2 for r in results) >= 2)


def write_figures(
    results: Sequence[LandscapeResult],
    out: str | Path,
    *,
    gif: bool = True,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Draw and write every figure of ``results`` into ``out`` (created if missing).

    Args:
        results: landscape comparisons.
        out: the output directory.
        gif: also write the animations (the slowest figures).
        on_written: called with each path after it is written.

    Returns:
        The paths written, in order.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def done(path: Path) -> None:
        written.append(path)
        if on_written is not None:
            on_written(path)

    surfaces = []
    for r in results:
        s = stem(r.landscape.name)
        surface = r.landscape.surface() if r.landscape.dim == 2 else None
        surfaces.append(surface)
        if surface is not None:
            done(save(paths_figure(r, surface), out / f"{s}-paths.png"))
            if gif:
                done(paths_gif(r, surface, out / f"{s}-paths.gif"))
        done(save(loss_figure(r), out / f"{s}-loss.png"))
        if not r.tuning:
            for opt in r.optimizers:
                if len({rec.lr for rec in r.select(optimizer=opt)}) >= 2:
                    done(save(lr_effects_figure(r, opt), out / f"{s}-lr-effects-{stem(opt)}.png"))
    if sum(s is not None for s in surfaces) >= 2:
        done(save(overview_figure(results, surfaces), out / "overview.png"))
    return written
