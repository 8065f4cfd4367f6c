"""``ravine compare``: optimisers side by side on 2-D landscapes (this module) or on a task (delegated).

The command only parses, calls :mod:`ravine.lab.suite` and :mod:`ravine.report.landscape_report`, and renders.
Bad input ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ravine.cli import compare_args as parse

LANDSCAPE_PANEL = "Landscapes only"
TASK_PANEL = "Tasks only"
SHARED_PANEL = "Landscapes and tasks"

HELP = """Compare optimisers side by side, each at a fairly tuned learning rate.

TARGET is a landscape (bowl, ravine, booth, rosenbrock, beale, saddle, monkey-saddle, plateau, himmelblau,
six-hump-camel, rastrigin, styblinski-tang; parameters as NAME:KEY=VALUE,..., e.g. ravine:kappa=1000 or
rastrigin:n=10) or a task. Without TARGET: the default suite (bowl, ravine, rosenbrock, saddle, plateau,
rastrigin).

On landscapes, each optimiser's learning rate is chosen from a log grid by one criterion over the standard starts
(most starts reaching the target, then fewest diverged, then fewest steps, then lowest final value) and its
default learning rate runs beside it. Writes results.json and figures to --out.
"""

EPILOG = """Examples:

ravine compare   (the default suite: tables, results.json, figures in ravine-out/)

ravine compare rosenbrock -o adam,lbfgs,momentum --steps 500

ravine compare bowl -o sgd --lr 0.01,0.5,1.5,2.1   (the learning-rate-effects picture)

ravine compare saddle -o sgd --start 1.5,0 --noise 0.01   (noise escapes the saddle)

ravine compare ravine:kappa=1000 --set momentum.momentum=0.95 --set adam.betas=0.9,0.99
"""


class _Bad(Exception):
    """Bad input: reported as one line, exit status 2."""


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""

    @app.command(help=HELP, epilog=EPILOG)
    def compare(
        target: Annotated[
            str | None,
            typer.Argument(help="Landscape or task; omit for the default suite.", metavar="TARGET", show_default=False),
        ] = None,
        optimizers: Annotated[
            str | None,
            typer.Option(
                "--optimizers",
                "-o",
                metavar="NAMES",
                help=(
                    "Comma-separated optimisers: sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, amsgrad, "
                    "adamw, nadam, adamax, radam, asgd, rprop, adafactor, lbfgs (muon takes weight matrices only), "
                    "or torch.<Name> (torch.optim). Default: sgd,momentum,nesterov,adagrad,rmsprop,adadelta,adam."
                ),
                rich_help_panel=SHARED_PANEL,
                show_default=False,
            ),
        ] = None,
        out: Annotated[
            Path,
            typer.Option(
                "--out", metavar="DIR", help="Directory for results.json and figures.", rich_help_panel=SHARED_PANEL
            ),
        ] = Path("ravine-out"),
        lr_grid: Annotated[
            str | None,
            typer.Option(
                "--lr-grid",
                metavar="GRID",
                help=(
                    "Learning rates to tune over: LOW:HIGH[:PER_DECADE] (log grid; 3 per decade gives 1, 2, 5) or a "
                    "comma-separated list. Landscapes default to 1e-4:10."
                ),
                rich_help_panel=SHARED_PANEL,
                show_default=False,
            ),
        ] = None,
        steps: Annotated[
            str | None,
            typer.Option(
                "--steps",
                metavar="N",
                help=("Steps per run (default: each landscape's budget)."),
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
            ),
        ] = None,
        lr: Annotated[
            str,
            typer.Option(
                "--lr",
                metavar="auto|LR[,LR...]",
                help=(
                    "auto: tune each optimiser over --lr-grid and show its default lr beside; values: run exactly "
                    "those (several draw the learning-rate-effects picture)."
                ),
                rich_help_panel=LANDSCAPE_PANEL,
            ),
        ] = "auto",
        noise: Annotated[
            str,
            typer.Option(
                "--noise",
                metavar="SIGMA",
                help=("Gaussian gradient noise of standard deviation SIGMA, the same draws for every optimiser."),
                rich_help_panel=LANDSCAPE_PANEL,
            ),
        ] = "0",
        start: Annotated[
            str | None,
            typer.Option(
                "--start",
                metavar="X,Y",
                help=("Start here instead of the standard starts (one landscape only; inside its domain)."),
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
            ),
        ] = None,
        seed: Annotated[
            str,
            typer.Option("--seed", metavar="S", help="Seed of the gradient noise.", rich_help_panel=LANDSCAPE_PANEL),
        ] = "0",
        sets: Annotated[
            list[str] | None,
            typer.Option(
                "--set",
                metavar="OPT.KEY=VALUE",
                help=(
                    "Override a hyperparameter, repeatable: --set adam.betas=0.9,0.99 --set momentum.momentum=0.95 "
                    "(VALUE: a number, a comma list for a tuple, true/false/none, or a word)."
                ),
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
            ),
        ] = None,
        no_gif: Annotated[
            bool, typer.Option("--no-gif", help="Skip the animations (faster).", rich_help_panel=LANDSCAPE_PANEL)
        ] = False,
        workers: Annotated[
            str | None,
            typer.Option(
                "--workers",
                metavar="W",
                help="Worker processes (tasks).",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        epochs: Annotated[
            str | None,
            typer.Option(
                "--epochs", metavar="E", help="Epochs per run.", rich_help_panel=TASK_PANEL, show_default=False
            ),
        ] = None,
        seeds: Annotated[
            str | None,
            typer.Option(
                "--seeds", metavar="S", help="Seeds per setting.", rich_help_panel=TASK_PANEL, show_default=False
            ),
        ] = None,
        batch_size: Annotated[
            str | None,
            typer.Option(
                "--batch-size",
                metavar="B|full|1",
                help=("Mini-batch size; full: full-batch gradient descent; 1: pure SGD."),
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        schedule: Annotated[
            str | None,
            typer.Option(
                "--schedule",
                metavar="NAME",
                help="Learning-rate schedule.",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                metavar="DIR",
                help="Where the data sets are.",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
    ) -> None:
        options = dict(locals())
        console, err = Console(), Console(stderr=True, highlight=False, soft_wrap=True)
        try:
            code = main(options, console)
        except (_Bad, ValueError, TypeError) as e:
            err.print(f"[bold red]error:[/] {e}", markup=True)
            raise typer.Exit(2) from None
        raise typer.Exit(code)


def _tasks() -> dict[str, Any]:
    try:
        from ravine.lab.tasks import TASKS
    except ImportError:
        return {}
    return dict(TASKS)


LANDSCAPE_ONLY = ("steps", "lr", "noise", "start", "seed", "sets", "no_gif")
TASK_ONLY = ("workers", "epochs", "seeds", "batch_size", "schedule", "data_dir")
DEFAULTS = {"lr": "auto", "noise": "0", "seed": "0", "no_gif": False, "sets": None}


def _given(options: dict[str, Any], name: str) -> bool:
    return options[name] is not None and options[name] != DEFAULTS.get(name) and options[name] != []


def _flag(name: str) -> str:
    return "--set" if name == "sets" else "--" + name.replace("_", "-")


def main(options: dict[str, Any], console: Console) -> int:
    """Dispatch to the task lab or run the landscape lab; returns the exit status."""
    from ravine.lab import landscapes

    target = options["target"]
    tasks = _tasks()
    if target is not None and target in tasks:
        wrong = [_flag(k) for k in LANDSCAPE_ONLY if _given(options, k)]
        if wrong:
            raise _Bad(
                f"{', '.join(wrong)} appl{'y' if len(wrong) > 1 else 'ies'} to landscapes, not to task {target!r}"
            )
        return _run_task(target, options, console)
    wrong = [_flag(k) for k in TASK_ONLY if _given(options, k)]
    if wrong:
        raise _Bad(f"{', '.join(wrong)} appl{'y' if len(wrong) > 1 else 'ies'} to tasks, not to landscapes")
    if target is not None and target.partition(":")[0] not in landscapes.LANDSCAPES:
        known = ", ".join(landscapes.names())
        also = f"; tasks: {', '.join(tasks)}" if tasks else ""
        raise _Bad(f"unknown landscape or task {target!r}; landscapes: {known}{also}")
    return _run_landscapes(options, console)


def _run_task(task: str, options: dict[str, Any], console: Console) -> int:
    from ravine.cli import compare_task

    batch = options["batch_size"]
    if batch is not None and batch != "full":
        batch = parse.integer("--batch-size", batch, low=1)
    return compare_task.run(
        task,
        optimizers=list(parse.names("--optimizers", options["optimizers"])) if options["optimizers"] else None,
        epochs=parse.integer("--epochs", options["epochs"], low=1) if options["epochs"] else None,
        seeds=parse.integer("--seeds", options["seeds"], low=1) if options["seeds"] else None,
        batch_size=batch,
        lr_grid=parse.grid(options["lr_grid"]) if options["lr_grid"] else None,
        schedule=options["schedule"],
        workers=parse.integer("--workers", options["workers"], low=1) if options["workers"] else None,
        data_dir=options["data_dir"],
        out=options["out"],
        console=console,
    )


def _run_landscapes(options: dict[str, Any], console: Console) -> int:
    import numpy as np
    import torch

    import ravine
    from ravine.cli.compare_tables import landscape_table, overall_table
    from ravine.lab import landscapes, runs, suite, tuning
    from ravine.optim import registry
    from ravine.report import landscape_report

    began = time.perf_counter()
    opts = parse.names("--optimizers", options["optimizers"]) if options["optimizers"] else suite.DEFAULT_OPTIMIZERS
    for name in opts:
        registry.entry(name)
    lands = (
        [landscapes.get(options["target"])]
        if options["target"]
        else [landscapes.get(n) for n in landscapes.DEFAULT_SUITE]
    )
    steps = parse.integer("--steps", options["steps"], low=1) if options["steps"] else None
    lrs = parse.learning_rates(options["lr"])
    grid = parse.grid(options["lr_grid"]) if options["lr_grid"] else tuning.DEFAULT_GRID
    noise = parse.real("--noise", options["noise"])
    seed = parse.integer("--seed", options["seed"], low=0)
    sets = parse.overrides(options["sets"] or [])
    for name, values in sets.items():
        if name not in opts:
            raise _Bad(f"--set names {name!r}, which is not among the optimizers ({', '.join(opts)})")
        runs.check_overrides(name, values)
    starts = None
    if options["start"]:
        if len(lands) != 1:
            raise _Bad(
                "--start needs a single landscape (domains differ); name one, e.g. ravine compare bowl --start 1,1"
            )
        point = parse.numbers("--start", options["start"])
        lands[0].check_start(point)
        starts = [point]
    out: Path = options["out"]
    results = []
    columns = (TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("", total=len(lands) * len(opts))
        for land in lands:

            def advance(name: str, land_name: str = land.name) -> None:
                progress.update(bar, advance=1, description=f"{land_name}: {name}")

            results.append(
                suite.compare(
                    land,
                    opts,
                    steps=steps,
                    lrs=lrs,
                    grid=grid,
                    noise=noise,
                    seed=seed,
                    starts=starts,
                    overrides=sets,
                    on_done=advance,
                )
            )
        gif = not options["no_gif"]
        figs = progress.add_task("figures", total=landscape_report.figure_count(results, gif=gif))
        out.mkdir(parents=True, exist_ok=True)
        settings = {
            "ravine": ravine.__version__,
            "torch": torch.__version__,
            "landscapes": [land.name for land in lands],
            "optimizers": list(opts),
            "steps": steps,
            "starts": starts,
            "lr": "auto" if lrs is None else list(lrs),
            "lr_grid": list(grid),
            "noise": noise,
            "seed": seed,
            "overrides": sets,
        }
        (out / "results.json").write_text(json.dumps(suite.to_json(results, settings), allow_nan=False, indent=1))
        np.savez_compressed(out / "trajectories.npz", **suite.trajectories(results))
        written = landscape_report.write_figures(
            results,
            out,
            gif=gif,
            on_written=lambda p: progress.update(figs, advance=1, description=f"figures: {p.name}"),
        )
    for r in results:
        console.print(landscape_table(r, console.width))
        console.print()
    if len(results) > 1:
        console.print(overall_table(results))
        console.print()
    console.print(f"[dim]Tuning and ranking criterion: {tuning.CRITERION}.[/]")
    first = next((p for p in written if p.name == "overview.png"), written[0] if written else None)
    console.print(
        f"Wrote results.json, trajectories.npz and {len(written)} figures to [bold]{out}/[/]"
        + (f" (start with {first.name})" if first else "")
        + f" in {time.perf_counter() - began:.0f} s."
    )
    return 0
