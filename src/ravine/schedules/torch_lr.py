"""``ScheduleLR``: any ravine schedule as a standard ``torch.optim.lr_scheduler.LRScheduler``."""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LRScheduler

ScheduleLike = Callable[[int], float]

_OWN = ("optimizer", "_lr_schedules", "_momentum_schedules", "_hook")


class ScheduleLR(LRScheduler):
    """Drive any torch optimiser's learning rate (and optionally its momentum) with a ravine schedule.

    After ``n`` calls of :meth:`step`, ``group["lr"] = schedule(n)``: a closed form of ``last_epoch``, never a
    recursion on the previous value, so loading a :meth:`state_dict` resumes exactly -- in either order with the
    optimiser's own ``load_state_dict``, since loading also writes the current values into the optimiser.

    Use it as any torch scheduler: ``optimizer.step(); scheduler.step()`` per step. With a stateful schedule
    (:class:`ravine.schedules.ReduceOnPlateau`) the value is also refreshed just before each ``optimizer.step()``,
    so a reduction takes effect at the next step, as with torch's ``ReduceLROnPlateau``; its state is saved in
    this scheduler's :meth:`state_dict`.

    Args:
        optimizer: a ``torch.optim.Optimizer`` (torch's or ravine's, whose ``lr`` must then be a plain number).
        schedule: a schedule (``step -> lr``) for every group, or a list with one per group.
        momentum: optional schedule(s) for ``betas[0]`` if the optimiser has ``betas``, else for ``momentum``
            (what torch's ``OneCycleLR(cycle_momentum=True)`` moves), e.g. ``one_cycle(...).momentum``.
        last_epoch: torch's: -1 to start; a resumed run should load :meth:`state_dict` instead.

    Example:
        >>> import torch
        >>> from ravine.schedules import ScheduleLR, cosine, warmup
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.0)
        >>> sched = ScheduleLR(opt, warmup(cosine(0.1, total_steps=90), steps=10))
        >>> for _ in range(10):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr()
        [0.1]
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: ScheduleLike | Sequence[ScheduleLike],
        *,
        momentum: ScheduleLike | Sequence[ScheduleLike] | None = None,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        n = len(optimizer.param_groups)
        self._lr_schedules = _per_group("schedule", schedule, n)
        self._momentum_schedules = None if momentum is None else _per_group("momentum", momentum, n)
        self._momentum_key = None
        if self._momentum_schedules is not None:
            if "betas" in optimizer.defaults:
                self._momentum_key = "betas"
            elif "momentum" in optimizer.defaults:
                self._momentum_key = "momentum"
            else:
                raise ValueError(f"momentum: {type(optimizer).__name__} has neither betas nor momentum to schedule")
        _check_not_scheduled(optimizer, "lr", self._momentum_key)
        self._hook = None
        super().__init__(optimizer, last_epoch)
        if any(_stateful(s) for s in self._all()):
            ref = weakref.ref(self)
            self._hook = optimizer.register_step_pre_hook(lambda *_: _refresh(ref))

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """``schedule(last_epoch)`` for each group."""
        return [_value(s, self.last_epoch, "schedule") for s in self._lr_schedules]

    _get_closed_form_lr = get_lr

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        self._write_momentum()

    def state_dict(self) -> dict[str, Any]:
        """torch's scheduler state (``last_epoch``, ...) and the state of stateful schedules; the schedules
        themselves come from the constructor, as with torch's ``LambdaLR``."""
        out = {k: v for k, v in self.__dict__.items() if k not in _OWN}
        out["schedule_states"] = {f"{kind}.{i}": s.state_dict() for kind, i, s in self._indexed() if _stateful(s)}
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("schedule_states", {})
        own = {f"{kind}.{i}": s for kind, i, s in self._indexed() if _stateful(s)}
        if set(saved) != set(own):
            raise ValueError(f"the saved schedule states {sorted(saved)} do not match this scheduler's {sorted(own)}")
        for k, s in own.items():
            s.load_state_dict(saved[k])
        self.__dict__.update({k: v for k, v in state.items() if k not in _OWN})
        self._write_lr()
        self._write_momentum()

    def close(self) -> None:
        """Remove the optimiser hook of a stateful schedule (done when the scheduler is garbage-collected)."""
        hook = getattr(self, "_hook", None)  # absent if __init__ failed
        if hook is not None:
            hook.remove()
            self._hook = None

    def __del__(self) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------------------
    def _all(self) -> list[ScheduleLike]:
        return [s for _, _, s in self._indexed()]

    def _indexed(self) -> list[tuple[str, int, ScheduleLike]]:
        out = [("lr", i, s) for i, s in enumerate(self._lr_schedules)]
        out += [("momentum", i, s) for i, s in enumerate(self._momentum_schedules or ())]
        return out

    def _write_lr(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)
            else:
                group["lr"] = lr
        groups = self.optimizer.param_groups
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"] for g in groups]

    def _write_momentum(self) -> None:
        if self._momentum_schedules is None:
            return
        for group, s in zip(self.optimizer.param_groups, self._momentum_schedules, strict=True):
            m = _value(s, self.last_epoch, "momentum")
            if self._momentum_key == "betas":
                group["betas"] = (m, *group["betas"][1:])
            else:
                group["momentum"] = m


def _refresh(ref: weakref.ref) -> None:
    sched = ref()
    if sched is not None:
        sched._write_lr()
        sched._write_momentum()


def _stateful(s: Any) -> bool:
    return bool(getattr(s, "stateful", False))


def _per_group(name: str, x: Any, n: int) -> list[ScheduleLike]:
    items = list(x) if isinstance(x, (list, tuple)) else [x] * n
    if len(items) != n:
        raise ValueError(f"{name} must be one schedule or a list of {n} (one per parameter group), got {len(items)}")
    for i, s in enumerate(items):
        if not callable(s) or isinstance(s, (torch.Tensor, type)):
            raise ValueError(f"{name}[{i}] must be a schedule (a callable step -> value), got {type(s).__name__}")
    return items


def _value(s: ScheduleLike, step: int, name: str) -> float:
    v = float(s(step))
    if not math.isfinite(v):
        raise ValueError(f"the {name} {s!r} gave {v} at step {step}; schedules must give finite numbers")
    return v


def _check_not_scheduled(optimizer: torch.optim.Optimizer, *keys: str | None) -> None:
    """A ravine optimiser's hyperparameter that is already a schedule cannot have a second owner."""
    names = {"lr": ("lr",), "momentum": ("momentum",), "betas": ("betas.0",), None: ()}
    for i, group in enumerate(optimizer.param_groups):
        own = group.get("schedules") or {}
        for key in keys:
            for name in names[key]:
                if name in own:
                    raise ValueError(
                        f"param_groups[{i}]['{name}'] is already driven by the schedule {own[name]!r}; "
                        f"give the schedule to the optimiser or to ScheduleLR, not both"
                    )
