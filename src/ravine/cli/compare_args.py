"""Parsing ``ravine compare``'s option strings; every function raises ``ValueError`` naming the option."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Sequence
from typing import Any

from ravine.lab import tuning


def integer(option: str, text: str, *, low: int) -> int:
    """``text`` as an integer >= ``low``."""
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError(f"{option} must be an integer >= {low}, got {text!r}") from None
    if value < low:
        raise ValueError(f"{option} must be an integer >= {low}, got {value}")
    return value


def real(option: str, text: str, *, low: float = 0.0, strict: bool = False) -> float:
    """``text`` as a finite float >= ``low`` (> ``low`` if ``strict``)."""
    bound = f"> {low:g}" if strict else f">= {low:g}"
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} must be a number {bound}, got {text!r}") from None
    if not math.isfinite(value) or value < low or (strict and value == low):
        raise ValueError(f"{option} must be a finite number {bound}, got {text!r}")
    return value


def numbers(option: str, text: str, *, positive: bool = False) -> tuple[float, ...]:
    """A comma-separated list of finite numbers (all > 0 if ``positive``), e.g. ``"0.01,0.1,1"``."""
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise ValueError(f"{option} must be a comma-separated list of numbers, got {text!r}")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise ValueError(f"{option} must be a comma-separated list of numbers, got {p!r} in {text!r}") from None
        if not math.isfinite(v) or (positive and v <= 0):
            kind = "finite numbers > 0" if positive else "finite numbers"
            where = "" if len(parts) == 1 else f" in {text!r}"
            raise ValueError(f"{option} must list {kind}, got {p!r}{where}")
        out.append(v)
    return tuple(out)


def learning_rates(text: str) -> tuple[float, ...] | None:
    """``--lr``: ``auto`` (None: tune) or comma-separated learning rates > 0."""
    if text.strip().lower() == "auto":
        return None
    values = numbers("--lr", text, positive=True)
    if len(set(values)) != len(values):
        raise ValueError(f"--lr must not repeat a value, got {text!r}")
    return values


def grid(text: str) -> tuple[float, ...]:
    """``--lr-grid``: ``LOW:HIGH[:PER_DECADE]`` (a log grid) or comma-separated learning rates."""
    if ":" not in text:
        return tuple(sorted(set(numbers("--lr-grid", text, positive=True))))
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"--lr-grid must be LOW:HIGH[:PER_DECADE] or a comma-separated list, got {text!r}")
    low = real("--lr-grid LOW", parts[0], strict=True)
    high = real("--lr-grid HIGH", parts[1], strict=True)
    per = integer("--lr-grid PER_DECADE", parts[2], low=1) if len(parts) == 3 else 3
    if high < low:
        raise ValueError(f"--lr-grid needs LOW <= HIGH, got {text!r}")
    return tuning.log_grid(low, high, per)


def names(option: str, text: str) -> tuple[str, ...]:
    """A comma-separated list of names, each once."""
    out = tuple(p.strip() for p in text.split(","))
    if not text.strip() or any(not p for p in out):
        raise ValueError(f"{option} must be a comma-separated list of names, got {text!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"{option} must not repeat a name, got {text!r}")
    return out


_SET = re.compile(r"^(?P<opt>[A-Za-z_][\w.]*)\.(?P<key>[A-Za-z_]\w*)=(?P<value>.+)$")


def overrides(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``--set OPTIMIZER.KEY=VALUE`` items as ``{optimizer: {key: value}}``.

    VALUE is a Python literal (``0.9``, ``0.9,0.99`` for a tuple, ``True``, ``None``), ``true``/``false``/``none``,
    or else a string (``strong_wolfe``).
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        m = _SET.match(item.strip())
        if not m:
            raise ValueError(f"--set must look like OPTIMIZER.KEY=VALUE (e.g. adam.betas=0.9,0.99), got {item!r}")
        out.setdefault(m["opt"], {})[m["key"]] = _literal(m["value"].strip())
    return out


def _literal(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false", "none"):
        return {"true": True, "false": False, "none": None}[lowered]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value
