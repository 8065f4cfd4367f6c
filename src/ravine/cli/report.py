"""``ravine report DIR``: one self-contained HTML page from a result directory of the lab or the doctor.

The command parses its options into :class:`ravine.report.html.PageOptions`, loads and checks the directory,
diagnoses a doctor log that has no report beside it (as ``ravine doctor LOG`` would), and writes the page.
Exit status: 0 the page was written; 2 bad input (no such directory, results.json missing, empty, damaged or of an
unknown format, the page cannot be written), always as one line on stderr.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ravine.cli import style
from ravine.report.html import REPORT_NAME

if TYPE_CHECKING:
    from ravine.report.html import PageOptions, ResultDir

EXIT_OK, EXIT_BAD_INPUT = 0, 2
REPORT = REPORT_NAME
"""The page's name in a result directory (``ravine compare`` lists it among its outputs)."""

HELP = """Write one self-contained HTML page (report.html) from a result directory.

DIR is what ravine compare wrote (landscapes or a task), an LR-finder sweep or a reproduction (any results.json
of the lab), or a folder with a doctor log (JSONL or CSV) and/or the report of ravine doctor LOG --json. The page
has the ranked tables, every figure inlined, interactive learning curves (hover values, optimisers toggled), the
doctor's findings beside the curves they concern, and the protocol and environment. It needs no network to view.
"""

EPILOG = """Examples:

ravine report ravine-out   (after ravine compare; writes ravine-out/report.html)

ravine report ravine-mnist-logreg --out ~/shared/mnist.html --title "MNIST, 3 seeds"

ravine report ravine-out --no-animations   (a lighter page without the GIFs)

ravine report runs/doctor   (a folder with run.jsonl, and doctor.json if ravine doctor wrote one)
"""


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command(help=style.paragraphs(HELP), epilog=EPILOG, cls=style.Command)
    def report(
        directory: Annotated[
            Path, typer.Argument(metavar="DIR", help="The result directory (holding results.json).", show_default=False)
        ],
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                metavar="FILE",
                help="Where to write the page (default: DIR/report.html).",
                dir_okay=False,
                show_default=False,
            ),
        ] = None,
        title: Annotated[
            str | None, typer.Option("--title", metavar="TEXT", help="The page's title.", show_default=False)
        ] = None,
        animations: Annotated[
            bool,
            typer.Option(
                "--animations/--no-animations", help="Inline the landscape animations (the heaviest part of the page)."
            ),
        ] = True,
        max_points: Annotated[
            int,
            typer.Option(
                "--max-points",
                min=50,
                max=1_000_000,
                metavar="N",
                help="At most about N points per drawn series of a doctor log; longer logs are thinned for drawing "
                "(each stretch keeps its lowest and highest value).",
            ),
        ] = 2000,
    ) -> None:
        from ravine.report.html import PageOptions, ReportError

        err = Console(stderr=True, highlight=False, soft_wrap=True)
        options = PageOptions(animations=animations, max_points=max_points, title=title)
        try:
            path = write(directory, out, options)
        except ReportError as e:
            err.print(f"ravine report: {e}", markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        except OSError as e:
            err.print(f"ravine report: cannot write {e.filename or out}: {e.strerror or e}", markup=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        Console(highlight=False, soft_wrap=True).print(f"wrote {path} ({_size(path)})", markup=False)
        raise typer.Exit(EXIT_OK)


def write(directory: Path, out: Path | None, options: PageOptions) -> Path:
    """Load ``directory``, diagnose doctor logs that have no report, build the page and write it."""
    from ravine.report import html

    result = diagnosed(html.load(directory))
    try:
        text = html.build(result, options)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        # load() checked what every section reads; this is the net for a file that passed and still lacks a part.
        source = directory / "results.json" if result.data else directory
        raise html.ReportError(f"{source} is damaged or of another ravine version ({type(e).__name__}: {e})") from None
    return html.save(text, out if out is not None else directory / REPORT)


def diagnosed(result: ResultDir) -> ResultDir:
    """``result`` with every doctor log that has no report diagnosed, as ``ravine doctor LOG`` does."""
    from ravine.report.html import ReportError

    if not any(r.report is None and r.log_file for r in result.runs):
        return result
    from ravine.diagnose import DiagnoseError
    from ravine.diagnose.logs import diagnose_log

    runs = []
    for run in result.runs:
        if run.report is None and run.log_file:
            try:
                report = diagnose_log(result.path / run.log_file).to_json()
            except (OSError, DiagnoseError) as e:
                raise ReportError(f"{result.path / run.log_file}: {e}") from None
            run = dataclasses.replace(run, report=report)
        runs.append(run)
    return dataclasses.replace(result, runs=tuple(runs))


def for_compare(out_dir: Path, console: Console) -> Path | None:
    """Write ``out_dir/report.html`` after ``ravine compare`` and print its path; a failure is a warning, never
    the comparison's failure (its results are already on disk)."""
    from ravine.report.html import PageOptions, ReportError

    try:
        path = write(out_dir, None, PageOptions())
    except (ReportError, OSError) as e:
        console.print(f"[yellow]warning:[/] no report.html: {e}", highlight=False, soft_wrap=True)
        return None
    console.print(f"Report (one self-contained page): [bold]{path}[/]", highlight=False, soft_wrap=True)
    return path


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
