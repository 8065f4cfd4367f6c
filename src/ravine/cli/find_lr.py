"""``ravine find-lr TASK -o adam,nesterov``: one LR range test per optimiser on a task of the lab.

The command parses its options into one :class:`FindLrOptions` (typed by typer, checked by
:class:`ravine.lr_finder.Sweep` and the registry), runs :func:`ravine.lr_finder.lab.sweep` for each optimiser
(the model, data order and objective of the comparison protocol's tuning run), and renders: a progress bar, a
table of the suggestions, ``lr_finder.png`` and ``results.json`` (format ``ravine.lr-finder/1``). Bad input is
one line on stderr and exit status 2; missing data is one line and exit status 1.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ravine.cli import compare_args as parse
from ravine.cli import style
from ravine.lr_finder import RULES, Sweep, suggest

FORMAT = "ravine.lr-finder/1"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_OPTIMIZERS = ("nesterov", "adam")
SWEEP_PANEL = "Sweep"
TASK_PANEL = "Task"

Mode = Enum("Mode", {"exp": "exp", "linear": "linear"}, type=str)  # type: ignore[misc]
Rule = Enum("Rule", {name: name for name in RULES}, type=str)  # type: ignore[misc]

HELP = """Find a good learning rate for each optimiser in one short run: an LR range test (Smith 2017; fastai's
lr_find) on a task of the lab.

The rate grows from --start to --end over --steps mini-batches (the model, data order and objective of the
comparison protocol's tuning run) and the sweep stops when the smoothed loss exceeds --stop-factor x its best.
Every rule's suggestion is shown, the default rule's first; the picture marks each one and where the sweep
stopped. Writes results.json and lr_finder.png to --out. Seeds then run at the suggestion with
ravine compare TASK --lr find.
"""

EPILOG = """Examples:

ravine find-lr mnist-logreg   (SGD with Nesterov momentum and Adam)

ravine find-lr imdb-logreg -o adam,rmsprop,adagrad --steps 200

ravine find-lr fmnist-cnn -o momentum --start 1e-5 --end 3 --mode linear
"""


@dataclass(frozen=True)
class FindLrOptions:
    """What ``ravine find-lr`` was asked to do, every value typed."""

    task: str
    optimizers: tuple[str, ...]
    sweep: Sweep
    seed: int = 0
    epochs: int | None = None
    batch_size: int | str | None = None
    subset: int | None = None
    data_dir: Path | None = None
    out: Path = Path("ravine-lr-finder")


def register(app: typer.Typer) -> None:
    """Add the ``find-lr`` command to ``app``."""

    @app.command("find-lr", help=style.paragraphs(HELP), epilog=EPILOG, cls=style.Command)
    def find_lr(
        task: Annotated[str, typer.Argument(help="A task of the lab (see ravine compare --help).", metavar="TASK")],
        optimizers: Annotated[
            parse.Names | None,
            typer.Option(
                "--optimizers",
                "-o",
                metavar="NAMES",
                parser=parse.names,
                show_default=False,
                help="Comma-separated optimisers (registry names or torch.<Name>); "
                f"default {','.join(DEFAULT_OPTIMIZERS)}.",
            ),
        ] = None,
        start: Annotated[
            float, typer.Option("--start", metavar="LR", min=0.0, help="First rate (> 0).", rich_help_panel=SWEEP_PANEL)
        ] = 1e-7,
        end: Annotated[
            float,
            typer.Option("--end", metavar="LR", min=0.0, help="Last rate (> start).", rich_help_panel=SWEEP_PANEL),
        ] = 10.0,
        steps: Annotated[
            int,
            typer.Option("--steps", metavar="N", min=2, help="Mini-batches in the sweep.", rich_help_panel=SWEEP_PANEL),
        ] = 100,
        mode: Annotated[
            Mode, typer.Option("--mode", help="Spacing of the rates.", rich_help_panel=SWEEP_PANEL)
        ] = Mode.exp,  # type: ignore[attr-defined]
        smooth: Annotated[
            float,
            typer.Option(
                "--smooth",
                metavar="BETA",
                min=0.0,
                max=1.0,
                rich_help_panel=SWEEP_PANEL,
                help="beta in [0, 1) of the debiased moving average of the loss (0: raw).",
            ),
        ] = 0.98,
        stop_factor: Annotated[
            float,
            typer.Option(
                "--stop-factor",
                metavar="F",
                min=1.0,
                rich_help_panel=SWEEP_PANEL,
                help="Stop when the smoothed loss exceeds F (> 1) x its best.",
            ),
        ] = 4.0,
        rule: Annotated[
            Rule, typer.Option("--rule", help="The suggestion rule listed first.", rich_help_panel=SWEEP_PANEL)
        ] = Rule[suggest.DEFAULT_RULE],  # type: ignore[misc]
        seed: Annotated[
            int,
            typer.Option(
                "--seed", metavar="S", min=0, help="Seed of the model and data order.", rich_help_panel=TASK_PANEL
            ),
        ] = 0,
        epochs: Annotated[
            int | None,
            typer.Option(
                "--epochs",
                metavar="E",
                min=1,
                show_default=False,
                rich_help_panel=TASK_PANEL,
                help="Epochs of the run to tune for (default: the task's); the calibrated rule scales with it.",
            ),
        ] = None,
        batch_size: Annotated[
            int | None,
            typer.Option(
                "--batch-size",
                metavar="B|full",
                parser=parse.batch_size,
                show_default=False,
                rich_help_panel=TASK_PANEL,
                help="Mini-batch size (default: the task's).",
            ),
        ] = None,
        subset: Annotated[
            int | None,
            typer.Option(
                "--subset",
                metavar="N",
                min=1,
                show_default=False,
                rich_help_panel=TASK_PANEL,
                help="At most N examples per split (quick runs).",
            ),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                metavar="DIR",
                file_okay=False,
                exists=True,
                show_default=False,
                rich_help_panel=TASK_PANEL,
                help="Where the data sets are (default: $RAVINE_DATA, else ~/.cache/ravine/data).",
            ),
        ] = None,
        out: Annotated[
            Path, typer.Option("--out", metavar="DIR", help="Directory for results.json and the figure.")
        ] = Path("ravine-lr-finder"),
    ) -> None:
        err = Console(stderr=True, highlight=False, soft_wrap=True)
        try:
            options = FindLrOptions(
                task=task,
                optimizers=tuple(optimizers or DEFAULT_OPTIMIZERS),
                sweep=Sweep(start, end, steps, mode.value, smooth, stop_factor, rule=rule.value),
                seed=seed, epochs=epochs, batch_size=batch_size, subset=subset, data_dir=data_dir, out=out,
            )  # fmt: skip
            code = run(options, Console())
        except ValueError as e:
            err.print(f"[bold red]error:[/] {_flags(str(e))}", markup=True)
            raise typer.Exit(EXIT_USAGE) from None
        raise typer.Exit(code)


_SWEEP_FLAGS = {"start", "end", "steps", "mode", "smooth", "stop_factor", "rule"}


def _flags(message: str) -> str:
    """A :class:`Sweep` error names its field (``stop_factor must be ...``): name the command-line flag instead."""
    return re.sub(
        r"\b(" + "|".join(sorted(_SWEEP_FLAGS, key=len, reverse=True)) + r")(?= must|=)",
        lambda m: "--" + m.group(1).replace("_", "-"),
        message,
    )


def run(options: FindLrOptions, console: Console) -> int:
    """Sweep every optimiser of ``options`` and write the results; returns the exit status.

    Raises:
        ValueError: an unknown task or optimiser, or an optimiser the range test does not apply to (L-BFGS).
    """
    from ravine.lab.data import DataError
    from ravine.lab.tasks import TASKS
    from ravine.lr_finder import lab

    the_task = TASKS.get(options.task)
    if the_task is None:
        raise ValueError(f"unknown task {options.task!r}; known: {', '.join(TASKS)}")
    for name in options.optimizers:
        lab.check_optimizer(name)
    batch = options.batch_size or the_task.batch_size
    size = None if batch == "full" else int(batch)
    try:
        data = the_task.load(options.data_dir).subset(options.subset)
    except DataError as e:
        console.print(f"[red]error:[/red] {e}", highlight=False, soft_wrap=True)
        return EXIT_FAILED
    n = len(data.train)
    if n == 0:  # the steps per epoch below would divide by zero
        raise ValueError(f"batches is empty: the training split of {the_task.name} has no examples")
    budget = (options.epochs or the_task.epochs) * (1 if size is None else math.ceil(n / min(size, n)))
    sweep = options.sweep if options.sweep.budget is not None else replace(options.sweep, budget=budget)
    if sweep.batch_size is None:
        sweep = replace(sweep, batch_size=n if size is None else min(size, n))
    specs = {
        name: lab.SweepSpec(
            task=the_task.name,
            optimizer=name,
            seed=options.seed,
            batch_size=size,
            sweep=sweep,
            subset=options.subset,
            task_version=the_task.version,
        )
        for name in options.optimizers
    }
    store = lab.SweepStore(options.out / "lr_finder.jsonl")
    found = {}
    columns = (TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        for name, spec in specs.items():
            bar = progress.add_task(f"{name}", total=spec.sweep.steps)

            def advance(i: int, total: int, lr: float, loss: float, bar: Any = bar, name: str = name) -> None:
                progress.update(bar, completed=i, description=f"{name} lr {lr:.1e}")

            found[name], _ = lab.cached_sweep(the_task, data, spec, store, advance)
            progress.update(bar, completed=spec.sweep.steps)
    doc = document(the_task, replace(options, sweep=sweep), found)
    write(doc, found, options.out)
    console.print(table(doc))
    console.print(f"results.json and lr_finder.png in {options.out}/", highlight=False)
    return EXIT_OK


def document(task: Any, options: FindLrOptions, found: dict[str, Any]) -> dict[str, Any]:
    """The results document (``ravine.lr-finder/1``), with generic figures and tables for the HTML report."""
    import torch

    import ravine

    rule = options.sweep.rule
    rows = []
    for name, r in found.items():
        order = [rule, *[k for k in r.suggestions if k != rule]]
        for k in order:
            s = r.suggestions.get(k)
            rows.append([name, k + (" (default)" if k == rule else ""), "-" if s is None else f"{s.lr:.3g}",
                         "-" if s is None else s.rule])  # fmt: skip
        rows.append([name, "stopped", f"{r.lrs[-1]:.3g}", f"{r.stop} after {len(r.lrs)} of {r.sweep.steps} steps"])
    return {
        "format": FORMAT,
        "task": task.describe(),
        "settings": {
            "sweep": options.sweep.to_dict(),
            "optimizers": list(options.optimizers),
            "seed": options.seed,
            "batch_size": options.batch_size or task.batch_size,
            "subset": options.subset,
        },
        "environment": {
            "ravine": ravine.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "threads": 1,
            "seeds": [options.seed],
        },
        "results": {name: r.to_dict() for name, r in found.items()},
        "figures": [
            {
                "file": "lr_finder.png",
                "title": f"LR range test on {task.name}",
                "caption": "; ".join(
                    f"{name}: {rule} suggests {r.suggestions[rule].lr:.3g}"
                    if rule in r.suggestions
                    else f"{name}: no {rule} suggestion ({r.why_none()})"
                    for name, r in found.items()
                ),
            }
        ],
        "tables": [
            {
                "title": "Suggested learning rates",
                "columns": ["optimizer", "rule", "lr", "how"],
                "rows": rows,
                "note": f"sweep {options.sweep.start:g} to {options.sweep.end:g} over {options.sweep.steps} steps "
                f"({options.sweep.mode}); stop rule on the debiased average, beta {options.sweep.smooth:g}; "
                f"calibrated for a run of {options.sweep.budget} steps of {options.sweep.batch_size} examples",
            }
        ],
        "outputs": ["lr_finder.png", "lr_finder.jsonl"],
    }


def write(doc: dict[str, Any], found: dict[str, Any], out: Path) -> None:
    """``lr_finder.png``, then ``results.json`` (atomically, last); stale files of a previous run are removed."""
    from ravine.lab import outputs
    from ravine.lr_finder import plot

    out.mkdir(parents=True, exist_ok=True)
    before = outputs.previous(out)
    plot.save(plot.figure(found, title=doc["figures"][0]["title"]), out / "lr_finder.png")
    tmp = out / f".results-{os.getpid()}.json"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
    os.replace(tmp, out / "results.json")
    outputs.remove_stale(out, before, doc["outputs"])


def table(doc: dict[str, Any]) -> Table:
    t = Table(title=f"{doc['tables'][0]['title']} · {doc['task']['name']}", title_justify="left", box=box.SIMPLE_HEAD,
              caption=doc["tables"][0]["note"], caption_justify="left")  # fmt: skip
    for col in doc["tables"][0]["columns"]:
        t.add_column(col, justify="right" if col == "lr" else "left", no_wrap=col != "how")
    last = None
    for row in doc["tables"][0]["rows"]:
        t.add_row(row[0] if row[0] != last else "", *row[1:], end_section=row[1] == "stopped")
        last = row[0]
    return t
