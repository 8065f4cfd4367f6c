"""``--schedule`` specs: a learning-rate schedule applied the same way to every optimiser of a comparison.

A spec is a name with optional keyword arguments: ``cosine`` or ``warmup_cosine:warmup_steps=500``. ``constant``
(or no spec) keeps the rate fixed; any other name is a factory in :mod:`ravine.schedules`, called as
``factory(lr, total_steps, **kwargs)`` and giving a closed-form ``step -> lr`` function. The runner writes
``group["lr"] = schedule(k)`` before step ``k`` (k = 0, 1, ...), which works for torch.optim and ravine optimisers
alike.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

Schedule = Callable[[int], float]


def parse(spec: str | None) -> tuple[str, dict[str, Any]] | None:
    """Split ``name:key=value,...`` into the name and keyword arguments (numbers parsed); None for constant.

    Raises:
        ValueError: a malformed spec, or a name that is neither ``constant`` nor a schedule in ravine.schedules.
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
    _factory(name)
    return name, kwargs


def build(spec: str | None, lr: float, total_steps: int) -> Schedule | None:
    """The schedule ``step -> lr`` for a run, or None for a constant rate."""
    parsed = parse(spec)
    if parsed is None:
        return None
    name, kwargs = parsed
    schedule = _factory(name)(lr, total_steps, **kwargs)
    first = float(schedule(0))
    if not math.isfinite(first) or first < 0:
        raise ValueError(f"schedule {spec!r} gives lr {first} at step 0; it must be finite and >= 0")
    return schedule


def available() -> list[str]:
    """Schedule names that ``parse`` accepts in this installation."""
    names = ["constant"]
    module = _module()
    if module is not None:
        names += sorted(n for n in getattr(module, "__all__", ()) if callable(getattr(module, n, None)))
    return names


def _module() -> Any:
    try:
        return importlib.import_module("ravine.schedules")
    except ImportError:
        return None


def _factory(name: str) -> Callable[..., Schedule]:
    module = _module()
    factory = getattr(module, name, None) if module is not None else None
    if not callable(factory) or name.startswith("_"):
        raise ValueError(f"unknown schedule {name!r}; available: {', '.join(available())}")
    return factory


def _number(text: str) -> int | float | str:
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text
