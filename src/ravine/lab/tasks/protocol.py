"""The comparison protocol: tune the learning rate on a log grid, rerun the best with fresh seeds, and run each
optimiser's default settings beside it.

1. *Grid*: every optimiser, every learning rate of one shared grid, tuning seed 0.
2. *Choice*: the rate with the best final validation metric (accuracy, or loss for tasks without accuracy);
   diverged runs never win; ties go to the lower validation loss, then the smaller rate.
3. *Seeds*: the chosen rate again with seeds 1..S, which were not used to choose it (DeepOBS reruns the best
   setting with fresh seeds to report mean and spread).
4. *Defaults*: the optimiser's own default learning rate with the same seeds 1..S, what an untuned user gets
   (the "one-shot" setting of Crowded Valley).

References: Schneider, Balles & Hennig (ICLR 2019), DeepOBS, section 3; Schmidt, Schneider & Hennig (ICML 2021),
Descending through a Crowded Valley, section 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from ravine.lab.tasks import schedule as schedules
from ravine.lab.tasks.base import Task
from ravine.lab.tasks.spec import RunSpec
from ravine.optim import registry

TUNING_SEED = 0
# SGD with Nesterov momentum, Adagrad, RMSProp and Adam: the optimisers of the Adam paper's comparisons.
DEFAULT_OPTIMIZERS = ("nesterov", "adagrad", "rmsprop", "adam")


@dataclass(frozen=True)
class Protocol:
    """What to compare and how; ``None`` fields take the task's defaults (see :meth:`resolve`).

    Attributes:
        optimizers: registry names or ``torch.<Name>``, at least one, no repeats.
        lr_grid: learning rates tried for every optimiser (each > 0 and finite).
        seeds: S >= 1 seeds for the chosen and the default rate.
        epochs: passes over the training part, >= 1.
        batch_size: examples per step (>= 1), ``"full"`` for full-batch gradient descent.
        schedule: a schedule spec applied to every optimiser's rate (:mod:`.schedule`), or None.
        subset: at most this many examples per split (quick runs), or None.
        threads: torch threads per run (>= 1); results may depend on it, never on the number of workers.
        defaults: also run each optimiser with its default learning rate.
    """

    optimizers: tuple[str, ...]
    lr_grid: tuple[float, ...] | None = None
    seeds: int = 3
    epochs: int | None = None
    batch_size: int | str | None = None
    schedule: str | None = None
    subset: int | None = None
    threads: int = 1
    defaults: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.optimizers, str) or not self.optimizers:
            raise ValueError(f"optimizers must be a non-empty sequence of names, got {self.optimizers!r}")
        object.__setattr__(self, "optimizers", tuple(self.optimizers))
        if self.lr_grid is not None:
            object.__setattr__(self, "lr_grid", tuple(self.lr_grid))
        for name in self.optimizers:
            if registry.entry(name).matrices_only:
                # every task model ends in a layer with a bias
                raise ValueError(
                    f"{name} cannot train a task model alone (it has biases). {registry.MATRICES_ONLY_ADVICE}"
                )
        if len(set(self.optimizers)) != len(self.optimizers):
            raise ValueError(f"optimizers must not repeat, got {', '.join(self.optimizers)}")
        if self.lr_grid is not None:
            if not self.lr_grid:
                raise ValueError("lr_grid must hold at least one learning rate")
            for lr in self.lr_grid:
                if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
                    raise ValueError(f"learning rates in lr_grid must be finite and > 0, got {lr!r}")
        _positive("seeds", self.seeds)
        _positive("threads", self.threads)
        if self.epochs is not None:
            _positive("epochs", self.epochs)
        if self.subset is not None:
            _positive("subset", self.subset)
        if self.batch_size is not None and self.batch_size != "full":
            _positive("batch_size", self.batch_size, "or 'full'")
        schedules.parse(self.schedule)

    def resolve(self, task: Task) -> Protocol:
        """This protocol with the task's defaults filled in (grid sorted, duplicates removed)."""
        grid = tuple(sorted({float(x) for x in (self.lr_grid or task.lr_grid)}))
        return replace(
            self,
            lr_grid=grid,
            epochs=self.epochs or task.epochs,
            batch_size=self.batch_size or task.batch_size,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optimizers"] = list(self.optimizers)
        d["lr_grid"] = None if self.lr_grid is None else list(self.lr_grid)
        return d

    def spec(self, task: Task, optimizer: str, lr: float, seed: int) -> RunSpec:
        """The run of ``optimizer`` at ``lr`` with ``seed`` under this (resolved) protocol."""
        return RunSpec(
            task=task.name,
            optimizer=optimizer,
            lr=float(lr),
            seed=seed,
            epochs=int(self.epochs or task.epochs),
            batch_size=None if self.batch_size == "full" else int(self.batch_size or task.batch_size),
            schedule=self.schedule,
            subset=self.subset,
            threads=self.threads,
            task_version=task.version,
        )

    def grid_runs(self, task: Task, optimizer: str) -> list[RunSpec]:
        return [self.spec(task, optimizer, lr, TUNING_SEED) for lr in self.lr_grid or task.lr_grid]

    def seed_runs(self, task: Task, optimizer: str, lr: float) -> list[RunSpec]:
        return [self.spec(task, optimizer, lr, s) for s in range(TUNING_SEED + 1, TUNING_SEED + 1 + self.seeds)]

    def default_runs(self, task: Task, optimizer: str) -> list[RunSpec]:
        return self.seed_runs(task, optimizer, default_lr(optimizer)) if self.defaults else []


def default_lr(optimizer: str) -> float:
    """The learning rate ``optimizer`` uses when none is given."""
    return registry.entry(optimizer).default_lr


def _positive(name: str, value: Any, extra: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1{' ' + extra if extra else ''}, got {value!r}")


def choose_lr(task: Task, records: Iterable[dict[str, Any]]) -> float | None:
    """The grid's winner (see the module docstring), or None if every run diverged."""
    best: tuple[Any, ...] | None = None
    sign = -1.0 if task.select_metric == "val_acc" else 1.0
    for r in records:
        value = r["final"].get(task.select_metric)
        if r["diverged"] or value is None:
            continue
        val_loss = r["final"].get("val_loss")
        key = (sign * value, math.inf if val_loss is None else val_loss, r["spec"]["lr"])
        if best is None or key < best:
            best = key
    return None if best is None else float(best[2])


def dedupe(specs: Sequence[RunSpec]) -> list[RunSpec]:
    """``specs`` without repeats (by key), in order."""
    seen: set[str] = set()
    out = []
    for s in specs:
        if s.key() not in seen:
            seen.add(s.key())
            out.append(s)
    return out
