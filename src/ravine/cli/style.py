"""How every ``ravine`` command looks and fails: one-line errors, and no type placeholders in the help.

typer prints a bad option value as a framed box under the usage line, and labels flags and ``--help`` with a
``<bool>`` placeholder. A command-line tool that is used in scripts and logs is better served by one line on
stderr that names the option and what it accepts, with exit status 2 (``error: Invalid value for '--steps':
...``), and a help page whose flags show no value to type. Parsers given to ``typer.Option(parser=...)`` raise
``typer.BadParameter`` (a ``ValueError`` would reach the user prefixed with "Value error, ").
"""

from __future__ import annotations

import sys
from typing import Any

import typer
import typer.core


def _flags_take_no_value(command: Any, ctx: typer.Context) -> None:
    """Give flags (and ``--help``) an empty metavar, so the help shows no ``<bool>`` beside them."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


def paragraphs(text: str) -> str:
    """Help text with each paragraph on one line, so that the terminal, not the source file, decides where lines
    break (rich keeps single newlines, which leaves ragged lines on a narrower terminal)."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))


class Command(typer.core.TyperCommand):
    """A typer command whose help shows no placeholder for flags, and arguments in the usage line as
    ``ARG`` (required) or ``[ARG]`` (optional), the convention of POSIX utilities."""

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _flags_take_no_value(self, ctx)
        super().format_help(ctx, formatter)

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, typer.core.TyperArgument):
                name = param.metavar or param.name.upper()
                pieces.append(name if param.required else f"[{name}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


class Group(typer.core.TyperGroup):
    """The ``ravine`` group: bad usage anywhere below it is one line on stderr and exit status 2."""

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _flags_take_no_value(self, ctx)
        super().format_help(ctx, formatter)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except typer.TyperException as e:  # typer's usage errors (bad values, unknown options)
            if not standalone_mode or not hasattr(e, "format_message"):
                raise
            where = f" (see {e.ctx.command_path} --help)" if getattr(e, "ctx", None) is not None else ""
            print(f"error: {e.format_message()}{where}", file=sys.stderr)
            sys.exit(getattr(e, "exit_code", 2))
        except typer.Abort:
            if not standalone_mode:
                raise
            print("aborted", file=sys.stderr)
            sys.exit(1)
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
