"""``ravine doctor LOG``: diagnose a finished run from its log (JSONL, CSV or TensorBoard).

Exit codes: 0 -- no warning or error; 1 -- warnings or errors found; 2 -- bad input (missing or unreadable log,
unknown format, no loss column, unwritable output).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def register(app: typer.Typer) -> None:
    from ravine.cli import style

    @app.command(cls=style.Command)
    def doctor(
        log: Annotated[
            Path,
            typer.Argument(metavar="LOG", help="a .jsonl or .csv log, a TensorBoard event file, or a folder of them"),
        ],
        json_out: Annotated[
            Path | None, typer.Option("--json", help="write the findings and skipped checks as JSON")
        ] = None,
        plot: Annotated[Path | None, typer.Option("--plot", help="write an annotated loss curve (PNG)")] = None,
        fmt: Annotated[str | None, typer.Option("--format", help="jsonl, csv or tensorboard (default: detect)")] = None,
    ) -> None:
        """Diagnose a finished training run from its log and say what to try.

        Exit status: 0 no warning or error, 1 warnings or errors found, 2 bad input.
        """
        from ravine.diagnose import DiagnoseError, diagnose, render
        from ravine.diagnose.logs import log_gaps, read_log

        try:
            trace = read_log(log, fmt)
        except (OSError, DiagnoseError, ValueError) as exc:
            _fail(str(exc))
        report = diagnose(trace, final=True, skipped=log_gaps(trace)).report
        render.summary(report, file=sys.stdout)
        if json_out is not None:
            try:
                json_out.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                _fail(f"cannot write {json_out}: {exc.strerror or exc}")
        if plot is not None:
            try:
                from ravine.report.doctor_plot import plot_report
            except ImportError:
                _fail("--plot needs matplotlib: pip install 'ravine[lab]'")
            try:
                plot_report(trace, report, plot)
            except OSError as exc:
                _fail(f"cannot write {plot}: {exc.strerror or exc}")
        raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _fail(message: str) -> NoReturn:
    typer.echo(f"ravine doctor: {message}", err=True)
    raise typer.Exit(EXIT_BAD_INPUT)
