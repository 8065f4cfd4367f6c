"""Findings for people: one live line per new finding, and a summary table at the end (rich when installed)."""

from __future__ import annotations

from typing import IO, Any

from ravine.diagnose.findings import Finding, Report

STYLE = {"info": "cyan", "warning": "yellow", "error": "bold red"}


def _console(file: IO[str] | None) -> Any:
    try:
        from rich.console import Console
    except ImportError:  # rich is in the lab extra; plain text without it
        return None
    return Console(file=file, highlight=False, soft_wrap=True)


def finding_line(f: Finding, file: IO[str] | None = None) -> None:
    """One line: ``doctor: warning oscillation from step 1200: <message>``."""
    console = _console(file)
    text = f"doctor: {f.severity} {f.kind} from step {f.first_step}: {f.message}"
    if console is None:
        print(text, file=file)
        return
    from rich.markup import escape

    console.print(
        f"[bold]doctor[/]: [{STYLE[f.severity]}]{f.severity}[/] [bold]{f.kind}[/] "
        f"from step {f.first_step}: {escape(f.message)}"
    )


def summary(report: Report, file: IO[str] | None = None, advice: int = 2) -> None:
    """The end-of-run table: kind, severity, steps, what was seen, what to try; then the skipped checks."""
    console = _console(file)
    if console is None:
        print(str(report), file=file)
        for s in report.skipped:
            print(f"skipped {s.check}: {s.reason}", file=file)
        return
    from rich.markup import escape
    from rich.table import Table

    if not report.findings:
        console.print(f"[green]no problems found[/] in {report.steps} steps")
    else:
        table = Table(title=f"ravine doctor: {report.steps} steps", title_justify="left", show_lines=True)
        for col in ("severity", "kind", "steps", "finding", "try"):
            table.add_column(col, overflow="fold")
        for f in report.findings:
            tips = "\n".join(f"- {escape(a)}" for a in list(f.advice)[:advice])
            table.add_row(
                f"[{STYLE[f.severity]}]{f.severity}[/]",
                f.kind,
                f"{f.first_step}-{f.last_step}",
                escape(f.message),
                tips,
            )
        console.print(table)
    for s in report.skipped:
        console.print(f"[dim]not checked: {s.check} ({escape(s.reason)})[/]")
