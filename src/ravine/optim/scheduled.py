"""Hyperparameters given as schedules: ``Adam(params, lr=cosine(1e-3, 10_000))``.

A *schedule* is any callable ``step -> float`` that is not a tensor (see :mod:`ravine.schedules`). A group's
schedules live in ``group["schedules"]`` (hyperparameter name, or ``"betas.0"`` for a member of a tuple ->
schedule) and the number of steps the group has taken in ``group["scheduled_steps"]``; both travel in
``state_dict()``. Before each step the plain value (``group["lr"]``) is set to ``schedule(k)``, so it always shows
the value of the latest step -- or of the first, before any -- and a resumed run continues exactly.
"""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

SCHEDULES = "schedules"
STEPS = "scheduled_steps"
_RESERVED = ("params", "param_names", SCHEDULES, STEPS)


def is_schedule(v: Any) -> bool:
    return callable(v) and not isinstance(v, (Tensor, type))


def extract(group: dict[str, Any]) -> None:
    """Move the schedules found among ``group``'s values into ``group["schedules"]`` and evaluate them at 0."""
    found = dict(group.get(SCHEDULES, {}))
    for key, v in list(group.items()):
        if key in _RESERVED:
            continue
        if is_schedule(v):
            found[key] = v
        elif isinstance(v, (tuple, list)):
            for i, x in enumerate(v):
                if is_schedule(x):
                    found[f"{key}.{i}"] = x
    if found:
        group[SCHEDULES] = found
        group.setdefault(STEPS, 0)
        _write(group, group[STEPS])


def _value(schedule: Any, key: str, step: int) -> float:
    v = schedule(step)
    if isinstance(v, Tensor):
        v = v.item()
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"the schedule for {key} gave {v} at step {step}; schedules must give finite numbers")
    return v


def _write(group: dict[str, Any], step: int) -> None:
    for key, schedule in group[SCHEDULES].items():
        name, _, member = key.partition(".")
        v = _value(schedule, key, step)
        if member:
            t = list(group[name])
            t[int(member)] = v
            group[name] = type(group[name])(t) if isinstance(group[name], tuple) else t
        else:
            group[name] = v


def _current(group: dict[str, Any], key: str) -> Any:
    name, _, member = key.partition(".")
    return group[name][int(member)] if member else group[name]


def advance(group: dict[str, Any]) -> bool:
    """Set ``group``'s scheduled values for the step about to run; True if the group has schedules.

    Raises ``ValueError`` if something else (say, a torch LR scheduler) changed a scheduled value since ravine
    wrote it: two owners of one hyperparameter would make the run depend on their order.
    """
    schedules = group.get(SCHEDULES)
    if not schedules:
        return False
    k = group[STEPS]
    if k > 0:
        for key, schedule in schedules.items():
            # a stateful schedule (ReduceOnPlateau) may have moved since the last step: it is not evidence
            if getattr(schedule, "stateful", False):
                continue
            if _current(group, key) != _value(schedule, key, k - 1):
                raise ValueError(
                    f"{key} of a parameter group is driven by a schedule, but was changed to {_current(group, key)!r} "
                    f"from outside; change group['{SCHEDULES}']['{key}'] instead of the value"
                )
    _write(group, k)
    return True


def live(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The schedule objects of each group, taken before ``load_state_dict`` replaces them with saved copies."""
    return [dict(g.get(SCHEDULES) or {}) for g in groups]


def keep_live(groups: list[dict[str, Any]], before: list[dict[str, Any]]) -> None:
    """After loading: a stateful schedule the user holds (``plateau.step(metric)``) stays the one in the group,
    with the saved state loaded into it, so that the user's reference keeps driving the run."""
    for group, old in zip(groups, before, strict=True):
        saved = group.get(SCHEDULES) or {}
        for key, s in old.items():
            if getattr(s, "stateful", False) and type(saved.get(key)) is type(s):
                s.load_state_dict(saved[key].state_dict())
                saved[key] = s


def finish(group: dict[str, Any]) -> None:
    if group.get(SCHEDULES):
        group[STEPS] += 1
