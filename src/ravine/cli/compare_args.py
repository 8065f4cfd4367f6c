"""``ravine compare``'s options as typed values: the parsers typer calls, and the one object the command builds.

Each parser turns the text of one option into a value (typer passes it with ``parser=``) or raises
``typer.BadParameter`` saying what the option accepts; typer prefixes the option's name ("Invalid value for '--lr':
..."). Below the command nothing parses a string again: :class:`CompareOptions` carries the typed values.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from ravine.lab import tuning
from ravine.lab.backends import Kind as Backend

Bad = typer.BadParameter


class Names(tuple):
    """Comma-separated names, each once (``-o adam,nesterov``)."""


class Numbers(tuple):
    """Comma-separated finite numbers (``--start 1.5,0``)."""


class Rates(tuple):
    """Comma-separated learning rates, each > 0 and finite."""


class Override(tuple):
    """``OPTIMIZER.KEY=VALUE`` as ``(optimizer, key, value)``."""


def names(text: str) -> Names:
    out = tuple(p.strip() for p in text.split(","))
    if not text.strip() or any(not p for p in out):
        raise Bad(f"must be a comma-separated list of names, got {text!r}")
    if len(set(out)) != len(out):
        raise Bad(f"must not repeat a name, got {text!r}")
    return Names(out)


def numbers(text: str) -> Numbers:
    return Numbers(_numbers(text, positive=False))


def rates(text: str) -> Rates:
    values = _numbers(text, positive=True)
    if len(set(values)) != len(values):
        raise Bad(f"must not repeat a value, got {text!r}")
    return Rates(values)


class Find(Rates):
    """``--lr find`` (tasks): an LR range test per optimiser picks the rate instead of the grid."""


def learning_rates(text: str) -> Rates | None:
    """``--lr``: ``auto`` (None: tune over the grid), ``find`` (:class:`Find`: a range test picks the rate, tasks
    only) or the learning rates to run, each > 0."""
    word = text.strip().lower()
    return None if word == "auto" else Find() if word == "find" else rates(text)


def backend(text: str) -> Backend:
    """``--backend``: ``pool`` or ``ray``, in any case."""
    try:
        return Backend(text.strip().lower())
    except ValueError:
        raise Bad(f"must be one of {', '.join(k.value for k in Backend)}, got {text!r}") from None


def grid(text: str) -> Rates:
    """``--lr-grid``: ``LOW:HIGH[:PER_DECADE]`` (a log grid) or comma-separated learning rates."""
    if ":" not in text:
        return Rates(sorted(set(_numbers(text, positive=True))))
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise Bad(f"must be LOW:HIGH[:PER_DECADE] or a comma-separated list, got {text!r}")
    try:
        low, high = float(parts[0]), float(parts[1])
        per = int(parts[2], 10) if len(parts) == 3 else 3
    except ValueError:
        raise Bad(f"must be LOW:HIGH[:PER_DECADE], numbers LOW, HIGH > 0 and PER_DECADE >= 1, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low > 0 and high > 0) or per < 1:
        raise Bad(f"needs finite LOW, HIGH > 0 and PER_DECADE >= 1, got {text!r}")
    if high < low:
        raise Bad(f"needs LOW <= HIGH, got {text!r}")
    return Rates(tuning.log_grid(low, high, per))


def batch_size(text: str) -> int | str:
    """``--batch-size``: ``full`` (full-batch gradient descent) or an integer >= 1."""
    if text.strip().lower() == "full":
        return "full"
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if value < 1:
        raise Bad(f"must be 'full' or an integer >= 1, got {text!r}")
    return value


def schedule(text: str) -> str:
    """``--schedule``: a recipe of the task lab with options, ``name[:key=value,...]``; checked, kept as text."""
    from ravine.lab.tasks import schedule as recipes

    try:
        recipes.parse(text)
    except ValueError as e:
        raise Bad(str(e)) from None
    return text.strip()


_SET = re.compile(r"^(?P<opt>[A-Za-z_][\w.]*)\.(?P<key>[A-Za-z_]\w*)=(?P<value>.+)$")


def override(text: str) -> Override:
    """``--set OPTIMIZER.KEY=VALUE``; VALUE is a Python literal (``0.9``, ``0.9,0.99`` for a tuple, ``True``,
    ``None``), ``true``/``false``/``none``, or else a string (``strong_wolfe``)."""
    m = _SET.match(text.strip())
    if not m:
        raise Bad(f"must look like OPTIMIZER.KEY=VALUE (e.g. adam.betas=0.9,0.99), got {text!r}")
    return Override((m["opt"], m["key"], _literal(m["value"].strip())))


def overrides(items: list[Override]) -> dict[str, dict[str, Any]]:
    """``--set`` items as ``{optimizer: {key: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for opt, key, value in items:
        out.setdefault(opt, {})[key] = value
    return out


def _numbers(text: str, *, positive: bool) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise Bad(f"must be a comma-separated list of numbers, got {text!r}")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise Bad(f"must be a comma-separated list of numbers, got {p!r} in {text!r}") from None
        if not math.isfinite(v) or (positive and v <= 0):
            kind = "finite numbers > 0" if positive else "finite numbers"
            where = "" if len(parts) == 1 else f" in {text!r}"
            raise Bad(f"must list {kind}, got {p!r}{where}")
        out.append(v)
    return tuple(out)


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[lowered]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value


@dataclass(frozen=True)
class CompareOptions:
    """What ``ravine compare`` was asked to do, every value typed; None means "not given" (the target's own
    default applies, and an option of the other kind of target may not be given)."""

    target: str | None = None
    optimizers: tuple[str, ...] | None = None
    out: Path = Path("ravine-out")
    lr_grid: tuple[float, ...] | None = None
    # landscapes only
    steps: int | None = None
    lr: tuple[float, ...] | None = None  # None: tune over the grid
    noise: float | None = None
    start: tuple[float, ...] | None = None
    seed: int | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    no_gif: bool = False
    # tasks only
    workers: int | None = None
    epochs: int | None = None
    seeds: int | None = None
    batch_size: int | str | None = None
    schedule: str | None = None
    data_dir: Path | None = None
    backend: Backend | None = None  # None: the process pool
    address: str | None = None  # the Ray cluster (--backend ray only)

    LANDSCAPE_ONLY = ("steps", "lr", "noise", "start", "seed", "overrides", "no_gif")
    # landscapes run in this process (ravine.lab.suite): a backend is a task option
    TASK_ONLY = ("workers", "epochs", "seeds", "batch_size", "schedule", "data_dir", "backend", "address")

    def given(self, names: tuple[str, ...]) -> list[str]:
        """The command-line flags among ``names`` that were given."""
        flags = {"overrides": "--set"}
        return [flags.get(n, "--" + n.replace("_", "-")) for n in names if getattr(self, n) not in (None, False, {})]
