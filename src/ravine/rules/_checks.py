"""Range checks shared by rules and optimisers: every message names the argument and its allowed range."""

from __future__ import annotations

import math
from typing import Any

import torch


def _number(name: str, x: Any) -> float:
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f"{name} must be a number or a 1-element tensor, got shape {tuple(x.shape)}")
        x = x.item()
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{name} must be a number, got {type(x).__name__}")
    if math.isnan(x):
        raise ValueError(f"{name} must be a number, got nan")
    return float(x)


def non_negative(name: str, x: Any) -> None:
    if not _number(name, x) >= 0.0:
        raise ValueError(f"{name} must be in [0, inf), got {x}")


def positive(name: str, x: Any) -> None:
    if not _number(name, x) > 0.0:
        raise ValueError(f"{name} must be in (0, inf), got {x}")


def unit_interval(name: str, x: Any) -> None:
    """[0, 1): decay rates such as betas, rho, alpha."""
    if not 0.0 <= _number(name, x) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {x}")


def closed_unit_interval(name: str, x: Any) -> None:
    if not 0.0 <= _number(name, x) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {x}")


def flag(name: str, x: Any) -> None:
    if not isinstance(x, bool):
        raise ValueError(f"{name} must be True or False, got {x!r}")


def pair(name: str, x: Any) -> tuple[Any, Any]:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {x!r}")
    return x[0], x[1]


def choice(name: str, x: Any, allowed: tuple[str, ...]) -> None:
    if x not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {x!r}")
