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
from ravine.cli import report, style

LANDSCAPE_PANEL = "Landscapes only"
TASK_PANEL = "Tasks only"
SHARED_PANEL = "Landscapes and tasks"


def _help() -> str:
    from ravine.lab import landscapes

    tasks = ", ".join(_tasks()) or "none installed"
    return style.paragraphs(f"""Compare optimisers side by side, each at a fairly tuned learning rate.

TARGET is a landscape ({", ".join(landscapes.names())}; parameters as NAME:KEY=VALUE,..., e.g. ravine:kappa=1000
or rastrigin:n=10) or a task ({tasks}). Without TARGET: the default suite ({", ".join(landscapes.DEFAULT_SUITE)}).

On landscapes, each optimiser's learning rate is chosen from a log grid by one criterion over the standard starts
(most starts reaching the target, then fewest diverged, then fewest steps, then lowest final value) and its
default learning rate runs beside it. On tasks, the rate with the best validation metric on a grid is rerun with
fresh seeds, beside the default rate. Writes results.json and figures to --out.
""")


EPILOG = """Examples:

ravine compare   (the default suite: tables, results.json, figures in ravine-out/)

ravine compare rosenbrock -o adam,lbfgs,momentum --steps 500

ravine compare bowl -o sgd --lr 0.01,0.5,1.5,2.1   (the learning-rate-effects picture)

ravine compare saddle -o sgd --start 1.5,0 --noise 0.01   (noise escapes the saddle)

ravine compare ravine:kappa=1000 --set momentum.momentum=0.95 --set adam.betas=0.9,0.99

ravine compare mnist-logreg --workers 2   (a task: lr grid, then 3 seeds; data from --data-dir or $RAVINE_DATA)

ravine compare mnist-logreg --backend ray --address head:6379   (the runs as tasks on a Ray cluster)
"""


def _optimizer_help() -> str:
    from ravine.lab import suite
    from ravine.lab.tasks.protocol import DEFAULT_OPTIMIZERS
    from ravine.optim import registry

    return (
        f"Comma-separated optimisers: {', '.join(registry.names())}, or torch.<Name> (torch.optim). "
        f"Default on landscapes: {', '.join(suite.DEFAULT_OPTIMIZERS)}; on tasks: {', '.join(DEFAULT_OPTIMIZERS)}."
    )


class _Bad(Exception):
    """Bad input: reported as one line, exit status 2."""


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""

    @app.command(help=_help(), epilog=EPILOG, cls=style.Command)
    def compare(
        target: Annotated[
            str | None,
            typer.Argument(help="Landscape or task; omit for the default suite.", metavar="TARGET", show_default=False),
        ] = None,
        optimizers: Annotated[
            parse.Names | None,
            typer.Option(
                "--optimizers",
                "-o",
                metavar="NAMES",
                parser=parse.names,
                help=_optimizer_help(),
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
            parse.Rates | None,
            typer.Option(
                "--lr-grid",
                metavar="GRID",
                parser=parse.grid,
                rich_help_panel=SHARED_PANEL,
                show_default=False,
                help=(
                    "Learning rates to tune over: LOW:HIGH[:PER_DECADE] (log grid; 3 per decade gives 1, 2, 5) or a "
                    "comma-separated list. Default: 1e-4:10 on landscapes, the task's grid on tasks."
                ),
            ),
        ] = None,
        steps: Annotated[
            int | None,
            typer.Option(
                "--steps",
                metavar="N",
                min=1,
                help="Steps per run (default: each landscape's budget).",
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
            ),
        ] = None,
        lr: Annotated[
            parse.Rates | None,
            typer.Option(
                "--lr",
                metavar="auto|find|LR[,LR...]",
                parser=parse.learning_rates,
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
                help=(
                    "auto (default): tune each optimiser over --lr-grid and show its default lr beside; values: run "
                    "exactly those (several draw the learning-rate-effects picture); find (tasks): an LR range test "
                    "per optimiser picks the rate the seeds run at, instead of the grid."
                ),
            ),
        ] = None,
        noise: Annotated[
            float | None,
            typer.Option(
                "--noise",
                metavar="SIGMA",
                min=0.0,
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
                help="Gaussian gradient noise of standard deviation SIGMA (default 0), the same draws for every "
                "optimiser.",
            ),
        ] = None,
        start: Annotated[
            parse.Numbers | None,
            typer.Option(
                "--start",
                metavar="X,Y",
                parser=parse.numbers,
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
                help="Start here instead of the standard starts (one landscape only; inside its domain).",
            ),
        ] = None,
        seed: Annotated[
            int | None,
            typer.Option(
                "--seed",
                metavar="S",
                min=0,
                help="Seed of the gradient noise (default 0).",
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
            ),
        ] = None,
        sets: Annotated[
            list[parse.Override] | None,
            typer.Option(
                "--set",
                metavar="OPT.KEY=VALUE",
                parser=parse.override,
                rich_help_panel=LANDSCAPE_PANEL,
                show_default=False,
                help=(
                    "Override a hyperparameter, repeatable: --set adam.betas=0.9,0.99 --set momentum.momentum=0.95 "
                    "(VALUE: a number, a comma list for a tuple, true/false/none, or a word)."
                ),
            ),
        ] = None,
        no_gif: Annotated[
            bool, typer.Option("--no-gif", help="Skip the animations (faster).", rich_help_panel=LANDSCAPE_PANEL)
        ] = False,
        workers: Annotated[
            int | None,
            typer.Option(
                "--workers",
                metavar="W",
                min=1,
                help="Runs at once: worker processes of the pool (default 1: this process), or Ray tasks (default: "
                "as many as the Ray cluster has CPUs for).",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        epochs: Annotated[
            int | None,
            typer.Option(
                "--epochs",
                metavar="E",
                min=1,
                help="Epochs per run (default: the task's).",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        seeds: Annotated[
            int | None,
            typer.Option(
                "--seeds",
                metavar="S",
                min=1,
                help="Seeds for the chosen and the default rate (default 3).",
                rich_help_panel=TASK_PANEL,
                show_default=False,
            ),
        ] = None,
        batch_size: Annotated[
            int | None,
            typer.Option(
                "--batch-size",
                metavar="B|full",
                parser=parse.batch_size,
                rich_help_panel=TASK_PANEL,
                show_default=False,
                help="Mini-batch size (default: the task's, 128); full: full-batch gradient descent; 1: pure SGD.",
            ),
        ] = None,
        schedule: Annotated[
            str | None,
            typer.Option(
                "--schedule",
                metavar="NAME[:K=V,...]",
                parser=parse.schedule,
                rich_help_panel=TASK_PANEL,
                show_default=False,
                help=f"Learning-rate schedule of every run: {', '.join(_schedules())}.",
            ),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                metavar="DIR",
                file_okay=False,
                exists=True,
                rich_help_panel=TASK_PANEL,
                show_default=False,
                help="Where the data sets are (default: $RAVINE_DATA, else ~/.cache/ravine/data).",
            ),
        ] = None,
        backend: Annotated[
            parse.Backend | None,
            typer.Option(
                "--backend",
                metavar="pool|ray",
                parser=parse.backend,
                rich_help_panel=TASK_PANEL,
                show_default=False,
                # \\[ keeps rich markup from reading [ray] as a tag
                help="Where the runs execute: pool (default; local processes) or ray (Ray tasks, on a local Ray or "
                "on --address; needs pip install 'ravine\\[ray]'). Same results and resume either way.",
            ),
        ] = None,
        address: Annotated[
            str | None,
            typer.Option(
                "--address",
                metavar="ADDR",
                rich_help_panel=TASK_PANEL,
                show_default=False,
                help="With --backend ray: the cluster (HOST:6379, auto, or ray://HOST:10001 with ray\\[client]); "
                "default: start a local Ray for this comparison.",
            ),
        ] = None,
    ) -> None:
        options = parse.CompareOptions(
            target=target, optimizers=optimizers, out=out, lr_grid=lr_grid, steps=steps, lr=lr, noise=noise,
            start=start, seed=seed, overrides=parse.overrides(sets or []), no_gif=no_gif, workers=workers,
            epochs=epochs, seeds=seeds, batch_size=batch_size, schedule=schedule, data_dir=data_dir,
            backend=backend, address=address,
        )  # fmt: skip
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


def _schedules() -> list[str]:
    from ravine.lab.tasks import schedule

    return schedule.available()


def main(options: parse.CompareOptions, console: Console) -> int:
    """Dispatch to the task lab or run the landscape lab; returns the exit status."""
    from ravine.lab import landscapes

    target = options.target
    tasks = _tasks()
    find = isinstance(options.lr, parse.Find)
    if target is not None and target in tasks:
        # --lr find is the one landscape option that tasks take too
        wrong = [f for f in options.given(options.LANDSCAPE_ONLY) if not (find and f == "--lr")]
        if wrong:
            raise _Bad(
                f"{', '.join(wrong)} appl{'y' if len(wrong) > 1 else 'ies'} to landscapes, not to task {target!r}"
            )
        if options.address is not None and options.backend is not parse.Backend.RAY:
            raise _Bad("--address applies to --backend ray")
        return _run_task(target, options, console)
    wrong = options.given(options.TASK_ONLY) + (["--lr find"] if find else [])
    if wrong:
        raise _Bad(f"{', '.join(wrong)} appl{'y' if len(wrong) > 1 else 'ies'} to tasks, not to landscapes")
    if target is not None and target.partition(":")[0] not in landscapes.LANDSCAPES:
        known = ", ".join(landscapes.names())
        also = f"; tasks: {', '.join(tasks)}" if tasks else ""
        raise _Bad(f"unknown landscape or task {target!r}; landscapes: {known}{also}")
    return _run_landscapes(options, console)


def _run_task(task: str, options: parse.CompareOptions, console: Console) -> int:
    from ravine.cli import compare_task

    return compare_task.run(
        task,
        optimizers=options.optimizers,
        epochs=options.epochs,
        seeds=options.seeds,
        batch_size=options.batch_size,
        lr_grid=options.lr_grid,
        tuning="find" if isinstance(options.lr, parse.Find) else "grid",
        schedule=options.schedule,
        workers=options.workers,
        backend=options.backend or parse.Backend.POOL,
        address=options.address,
        data_dir=options.data_dir,
        out=options.out,
        console=console,
    )


def _run_landscapes(options: dict[str, Any], console: Console) -> int:
    import numpy as np
    import torch

    import ravine
    from ravine.cli.compare_tables import landscape_table, overall_table
    from ravine.lab import landscapes, outputs, runs, suite, tuning
    from ravine.optim import registry
    from ravine.report import landscape_report

    began = time.perf_counter()
    opts = options.optimizers or suite.DEFAULT_OPTIMIZERS
    for name in opts:
        registry.entry(name)
    lands = (
        [landscapes.get(options.target)] if options.target else [landscapes.get(n) for n in landscapes.DEFAULT_SUITE]
    )
    steps, lrs = options.steps, options.lr
    grid = options.lr_grid or tuning.DEFAULT_GRID
    noise = options.noise or 0.0
    seed = options.seed or 0
    sets = options.overrides
    for name, values in sets.items():
        if name not in opts:
            raise _Bad(f"--set names {name!r}, which is not among the optimizers ({', '.join(opts)})")
        runs.check_overrides(name, values)
    starts = None
    if options.start:
        if len(lands) != 1:
            raise _Bad(
                "--start needs a single landscape (domains differ); name one, e.g. ravine compare bowl --start 1,1"
            )
        point = tuple(options.start)
        lands[0].check_start(point)
        starts = [point]
    out = options.out
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
        gif = not options.no_gif
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
        before = outputs.previous(out)
        np.savez_compressed(out / "trajectories.npz", **suite.trajectories(results))
        written = landscape_report.write_figures(
            results,
            out,
            gif=gif,
            on_written=lambda p: progress.update(figs, advance=1, description=f"figures: {p.name}"),
        )
        doc = suite.to_json(results, settings)
        # report.html comes last (report.for_compare below), from the results.json written here
        doc["outputs"] = ["trajectories.npz", *outputs.relative(out, written), report.REPORT]
        (out / "results.json").write_text(json.dumps(doc, allow_nan=False, indent=1))
        outputs.remove_stale(out, before, doc["outputs"])
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
    report.for_compare(out, console)  # the HTML page of the results just written (issue 15)
    return 0
