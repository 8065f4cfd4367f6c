"""``ravine reproduce adam-2015``: section 6 of Kingma & Ba (2015) as published, with a verdict on each claim.

The command parses its options into one :class:`ravine.lab.reproduce.spec.Settings`, runs
:func:`ravine.lab.reproduce.runner.reproduce` (resuming from ``--out``), writes the figures and results.json
(:mod:`ravine.lab.reproduce.results`) and prints the verdict table. Bad input is one line on stderr and exit
status 2; missing data is one line and exit status 1.
"""

from __future__ import annotations

import time
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ravine.cli import style

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Paper = Enum("Paper", {"adam-2015": "adam-2015"}, type=str)  # type: ignore[misc]

HELP = """Reproduce section 6 of Kingma & Ba (ICLR 2015), the Adam paper, with its own protocol: logistic regression on
MNIST (L2, alpha / sqrt(epoch)) and on IMDB bag of words (50 % input dropout), the 784-1000-1000-10 MLP with
dropout, a CNN (CIFAR-10 when present, else Fashion-MNIST), and the bias-correction study. Alpha is chosen per
optimiser on the training cost over a tuning budget (the whole run for the logistic regressions, one epoch for
the networks), then rerun with fresh seeds.

Writes one PNG per figure of the paper, results.json (open it with ravine report DIR) and a verdict table: for each
of the paper's claims, whether it holds here, by how many pooled seed sd, and how robust it is to the alpha grid.
The default run is sized for a CPU (under an hour on two cores with --workers 2); an interrupted run resumes from
--out. --epochs N runs every experiment for N epochs (the paper's horizons are 45 to 200).
"""

EPILOG = """Examples:

ravine reproduce adam-2015 --workers 2

ravine reproduce adam-2015 --quick --out /tmp/adam-quick   (seconds; numbers mean nothing)

ravine report ravine-reproduce
"""


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` command to ``app``."""

    @app.command(help=style.paragraphs(HELP), epilog=EPILOG, cls=style.Command)
    def reproduce(
        paper: Annotated[Paper, typer.Argument(metavar="PAPER", help="The paper: adam-2015.")],
        out: Annotated[
            Path, typer.Option("--out", metavar="DIR", file_okay=False, help="Directory for runs, figures, results.")
        ] = Path("ravine-reproduce"),
        epochs: Annotated[
            int | None,
            typer.Option(
                "--epochs",
                metavar="N",
                min=1,
                show_default=False,
                help="Epochs of every experiment (default: each one's).",
            ),
        ] = None,
        seeds: Annotated[
            int | None,
            typer.Option(
                "--seeds",
                metavar="S",
                min=2,
                show_default=False,
                help="Fresh seeds per optimiser (default 3; 2 with --quick).",
            ),
        ] = None,
        workers: Annotated[int, typer.Option("--workers", metavar="W", min=1, help="Worker processes.")] = 1,
        quick: Annotated[
            bool, typer.Option("--quick", help="Tiny subsets and grids (seconds): a smoke test, not a result.")
        ] = False,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                metavar="DIR",
                file_okay=False,
                exists=True,
                show_default=False,
                help="Where the data sets are (default: $RAVINE_DATA, else ~/.cache/ravine/data).",
            ),
        ] = None,
    ) -> None:
        from ravine.lab.data import DataError
        from ravine.lab.reproduce import results, runner
        from ravine.lab.reproduce.spec import Settings

        err = Console(stderr=True, highlight=False, soft_wrap=True)
        console = Console()
        try:
            settings = Settings(
                epochs=epochs, seeds=seeds or (2 if quick else 3), workers=workers, quick=quick,
                data_dir=None if data_dir is None else str(data_dir),
                study_seeds=1 if quick else Settings.study_seeds,
            )  # fmt: skip
        except ValueError as e:
            err.print(f"[bold red]error:[/] --{str(e).replace('_', '-')}", markup=True)
            raise typer.Exit(EXIT_USAGE) from None
        started = time.perf_counter()

        def show(e: runner.Event) -> None:
            if e.kind == "finish" and e.run is not None and e.record is not None:
                # the measure each run is read on: the study's eval cost, the comparisons' objective
                final = e.record["final" if e.run.beta2 is not None else "objective_final"]
                cost = "diverged" if final is None else f"{final:.4f}"
                console.print(f"[{e.done}/{e.planned}] {e.run.label()}: {cost} ({e.record['wall_s']:.1f} s)")

        try:
            plan = runner.reproduce(settings, out, on_event=show)
        except DataError as e:
            err.print(f"[bold red]error:[/] {e}", markup=True)
            raise typer.Exit(EXIT_FAILED) from None
        doc = results.write(plan, out, time.perf_counter() - started)
        table = Table(box=box.SIMPLE_HEAD, title="Verdicts" + (" (--quick: not a result)" if quick else ""))
        for c in doc["tables"][0]["columns"]:
            table.add_column(c, overflow="fold")
        for row in doc["tables"][0]["rows"]:
            table.add_row(*[str(c) for c in row])
        console.print(table)
        console.print(f"{doc['runs']} runs in {out}; wrote results.json and {len(doc['figures'])} figures; "
                      f"ravine report {out} makes the page.")  # fmt: skip
        raise typer.Exit(EXIT_OK)
