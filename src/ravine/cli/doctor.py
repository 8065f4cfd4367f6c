"""``ravine doctor LOG``: diagnose a finished run from its log (being built: issue 9)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor() -> None:
        """Diagnose a training run from its log (under construction)."""
        typer.echo("ravine doctor: under construction", err=True)
        raise typer.Exit(1)
