"""``--schedule`` specs: a learning-rate schedule applied the same way to every optimiser of a comparison.

A spec is a recipe name with optional keyword arguments, ``cosine`` or ``warmup_cosine:warmup_steps=500``. Each
recipe turns the run's tuned learning rate and its total number of steps into a closed-form schedule from
:mod:`ravine.schedules`. The runner writes ``group["lr"] = schedule(k)`` before step ``k`` (k = 0, 1, ...), which
works for torch.optim and ravine optimisers alike.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from ravine import schedules as S

Schedule = Callable[[int], float]


def _cosine(lr: float, total: int, min_lr: float = 0.0) -> Schedule:
    """Cosine decay from lr to min_lr over the run (Loshchilov & Hutter, SGDR, eq. 5 without restarts)."""
    return S.cosine(lr, total, min_lr)


def _warmup_cosine(lr: float, total: int, warmup_steps: int | None = None, min_lr: float = 0.0) -> Schedule:
    """Linear warm-up (default: the first 5 % of the run) into cosine decay over the rest (Goyal et al. 2017)."""
    w = max(1, total // 20) if warmup_steps is None else int(warmup_steps)
    if not 0 < w < total:
        raise ValueError(f"warmup_steps must be in (0, {total}) for a run of {total} steps, got {w}")
    return S.warmup(S.cosine(lr, total - w, min_lr), w)


def _step(lr: float, total: int, step_size: int | None = None, gamma: float = 0.1) -> Schedule:
    """lr times gamma every step_size steps (default: a third of the run, so two drops, as in ResNet recipes)."""
    return S.step_decay(lr, max(1, total // 3) if step_size is None else int(step_size), gamma)


def _exponential(lr: float, total: int, final_factor: float = 0.01) -> Schedule:
    """Exponential decay reaching final_factor * lr at the end of the run."""
    if not 0 < final_factor <= 1:
        raise ValueError(f"final_factor must be in (0, 1], got {final_factor}")
    return S.exponential(lr, final_factor ** (1 / max(total, 1)))


def _linear(lr: float, total: int, end: float = 0.0) -> Schedule:
    """Linear decay from lr to end over the run."""
    return S.linear(lr, end, total)


def _polynomial(lr: float, total: int, power: float = 1.0, end: float = 0.0) -> Schedule:
    """Polynomial decay to end over the run (DeepLab's "poly" with power 0.9)."""
    return S.polynomial(lr, total, power, end)


def _inverse_sqrt(lr: float, total: int, timescale: float = 1.0) -> Schedule:
    """lr / sqrt(1 + t / timescale): the Adam paper's alpha / sqrt(t) annealing (Kingma & Ba 2015, section 4)."""
    return S.inverse_sqrt(lr, timescale)


def _one_cycle(lr: float, total: int, **options: Any) -> Schedule:
    """One-cycle with the tuned lr as its peak (Smith & Topin 2019; torch's OneCycleLR arguments)."""
    return S.one_cycle(lr, total, **options)


RECIPES: dict[str, Callable[..., Schedule]] = {
    "cosine": _cosine,
    "warmup_cosine": _warmup_cosine,
    "step": _step,
    "exponential": _exponential,
    "linear": _linear,
    "polynomial": _polynomial,
    "inverse_sqrt": _inverse_sqrt,
    "one_cycle": _one_cycle,
}


def parse(spec: str | None) -> tuple[str, dict[str, Any]] | None:
    """Split ``name:key=value,...`` into the recipe name and keyword arguments (numbers parsed); None: constant.

    Raises:
        ValueError: a malformed spec, an unknown recipe, or an option the recipe does not take.
    """
    if spec is None or spec.strip() in ("", "constant", "none"):
        return None
    name, _, rest = spec.strip().partition(":")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"schedule options must look like key=value, got {item!r} in {spec!r}")
        kwargs[key.strip()] = _number(value.strip())
    recipe = RECIPES.get(name)
    if recipe is None:
        raise ValueError(f"unknown schedule {name!r}; available: {', '.join(available())}")
    params = inspect.signature(recipe).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(list(params)[2:]))
        if unknown:
            takes = ", ".join(list(params)[2:]) or "no options"
            raise ValueError(f"schedule {name!r} has no option {', '.join(unknown)}; it takes {takes}")
    return name, kwargs


def build(spec: str | None, lr: float, total_steps: int) -> Schedule | None:
    """The schedule ``step -> lr`` for a run, or None for a constant rate."""
    parsed = parse(spec)
    if parsed is None:
        return None
    name, kwargs = parsed
    try:
        schedule = RECIPES[name](lr, total_steps, **kwargs)
    except TypeError as err:  # an option one_cycle does not take
        raise ValueError(f"schedule {spec!r}: {err}") from None
    first = float(schedule(0))
    if not math.isfinite(first) or first < 0:
        raise ValueError(f"schedule {spec!r} gives lr {first} at step 0; it must be finite and >= 0")
    return schedule


def available() -> list[str]:
    """Schedule names that ``parse`` accepts."""
    return ["constant", *RECIPES]


def _number(text: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text
