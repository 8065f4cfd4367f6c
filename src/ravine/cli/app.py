"""The typer application; each command lives in its own module and only parses, calls and renders."""

from __future__ import annotations

import typer

from ravine.cli import compare, doctor, find_lr, report, reproduce, style

app = typer.Typer(
    name="ravine",
    cls=style.Group,
    help="Optimisers for PyTorch, compared side by side (compare) and diagnosed (doctor).",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)
compare.register(app)
doctor.register(app)
report.register(app)
find_lr.register(app)
reproduce.register(app)
