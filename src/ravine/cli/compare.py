"""``ravine compare``: optimisers side by side on a landscape or a task (being built: issues 6 and 7)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def compare() -> None:
        """Compare optimisers side by side (under construction)."""
        typer.echo("ravine compare: under construction", err=True)
        raise typer.Exit(1)
