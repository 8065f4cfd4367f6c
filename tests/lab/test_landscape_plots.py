"""Figures: files that decode as images of the requested size, with one path per optimiser in its colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from ravine.lab import landscapes as L
from ravine.lab import suite
from ravine.report import landscape_gif, landscape_plots, landscape_report, style

OPTIMIZERS = ["sgd", "momentum", "adam"]


@pytest.fixture(scope="module")
def tuned() -> suite.LandscapeResult:
    return suite.compare(L.himmelblau(), OPTIMIZERS, steps=60, grid=(0.001, 0.01, 0.1))


@pytest.fixture(scope="module")
def given() -> suite.LandscapeResult:
    return suite.compare(L.bowl(), ["sgd"], lrs=[0.01, 0.5, 1.5, 2.1], steps=60)


def pixels_of(png: Path, color: str, tol: int = 3) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    target = np.round(np.array(to_rgb(color)) * 255).astype(int)
    return int(np.all(np.abs(rgb - target) <= tol, axis=-1).sum())


def paths_in(fig, prefix: str = "path:") -> list[list[str]]:
    return [[ln.get_gid() for ln in ax.get_lines() if (ln.get_gid() or "").startswith(prefix)] for ax in fig.axes]


@pytest.mark.parametrize("size", [(900, 500), (1201, 777)])
def test_paths_figure_has_the_size_and_one_path_per_optimiser(tuned, tmp_path: Path, size) -> None:
    fig = landscape_plots.paths_figure(tuned, tuned.landscape.surface(60), size=size)
    png = landscape_plots.save(fig, tmp_path / "paths.png")
    assert Image.open(png).size == size
    panels = [p for p in paths_in(fig) if p]
    assert len(panels) == 2  # tuned beside default
    for panel in panels:
        assert sorted(panel) == sorted(f"path:{o}" for o in OPTIMIZERS)


def test_each_optimisers_colour_is_drawn_and_absent_without_paths(tuned, tmp_path: Path) -> None:
    surface = tuned.landscape.surface(60)
    png = landscape_plots.save(landscape_plots.paths_figure(tuned, surface), tmp_path / "paths.png")
    bare = landscape_plots.figure((800, 600))
    landscape_plots.draw_terrain(bare.subplots(), tuned.landscape, surface, landmarks=False)
    empty = landscape_plots.save(bare, tmp_path / "bare.png")
    for k, name in enumerate(OPTIMIZERS):
        color = style.color(name, k)  # text antialiasing makes a few grey pixels even without paths
        assert pixels_of(png, color) > 4 * pixels_of(empty, color) + 50, name


def test_loss_figure_size_and_curves(tuned, tmp_path: Path) -> None:
    fig = landscape_plots.loss_figure(tuned, size=(1000, 450))
    assert Image.open(landscape_plots.save(fig, tmp_path / "loss.png")).size == (1000, 450)
    curves = paths_in(fig, "loss:")[0]
    assert sorted(curves) == sorted(f"loss:{o}" for o in OPTIMIZERS)
    assert fig.axes[0].get_yscale() == "log" and fig.axes[1].get_yscale() == "log"


def test_lr_effects_are_labelled_from_each_runs_outcome(given, tmp_path: Path) -> None:
    fig = landscape_plots.lr_effects_figure(given, "sgd", size=(1500, 420))
    assert Image.open(landscape_plots.save(fig, tmp_path / "lr.png")).size == (1500, 420)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()][:4]
    recs = sorted(given.select("sgd", start=0), key=lambda r: r.lr)
    for title, rec in zip(titles, recs, strict=True):
        assert title.startswith(f"lr = {rec.lr:g}\n{rec.outcome.effect}:")
    # on 1/2 |x|^2 (L = 1): 0.01 is too small in 60 steps, 0.5 right, 1.5 overshoots, 2.1 > 2/L diverges
    assert [r.outcome.effect for r in recs] == ["too small", "right", "oscillating", "diverging"]


def test_gif_decodes_with_the_size_and_frames(tuned, tmp_path: Path) -> None:
    gif = landscape_gif.paths_gif(tuned, tuned.landscape.surface(60), tmp_path / "a.gif", frames=12, size=(400, 360))
    im = Image.open(gif)
    assert im.size == (400, 360) and im.format == "GIF"
    assert im.n_frames == len(landscape_gif.frame_steps(tuned.steps, 12))
    first = np.asarray(im.convert("RGB"))
    im.seek(im.n_frames - 1)
    assert not np.array_equal(first, np.asarray(im.convert("RGB")))  # the paths grew


@pytest.mark.parametrize(("steps", "frames"), [(60, 12), (1000, 48), (5, 48)])
def test_frame_steps_run_from_start_to_end(steps: int, frames: int) -> None:
    ks = landscape_gif.frame_steps(steps, frames)
    assert ks[0] == 0 and ks[-1] == steps and len(ks) <= frames and all(np.diff(ks) > 0)


def test_write_figures_names_files_by_landscape(tuned, given, tmp_path: Path) -> None:
    written = landscape_report.write_figures([tuned, given], tmp_path)
    names = sorted(p.name for p in written)
    assert names == sorted(
        ["himmelblau-paths.png", "himmelblau-paths.gif", "himmelblau-loss.png", "bowl-paths.png", "bowl-paths.gif",
         "bowl-loss.png", "bowl-lr-effects-sgd.png", "overview.png"]
    )  # fmt: skip
    assert landscape_report.figure_count([tuned, given]) == len(written)
    for p in written:
        Image.open(p).verify()
    assert landscape_report.stem("ravine:kappa=1000,n=3") == "ravine-kappa1000-n3"


def test_figures_of_n_dimensional_landscapes_are_loss_curves(tmp_path: Path) -> None:
    result = suite.compare(L.get("rosenbrock:n=4"), ["adam"], steps=30, grid=(0.01, 0.1))
    written = landscape_report.write_figures([result], tmp_path)
    assert [p.name for p in written] == ["rosenbrock-n4-loss.png"]
