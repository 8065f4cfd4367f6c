"""The ``ravine`` command: thin typer commands that parse, call the library and render (see :mod:`.app`)."""

from __future__ import annotations

import sys


def main() -> None:
    """Entry point of the ``ravine`` console script and of ``python -m ravine``."""
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError:
        print("the ravine command line needs the 'lab' extra: pip install 'ravine[lab]'", file=sys.stderr)
        raise SystemExit(2) from None
    from ravine.cli.app import app

    app()
