"""The range test on the lab's tasks: the same model, data order and loss as the protocol's tuning run.

A sweep of optimiser ``name`` on a task builds the model under the tuning seed's init stream and draws batches
from its order stream, exactly as :mod:`ravine.lab.tasks.train` does for the run with that seed, and minimises
the task's training objective (mean loss plus its L2 term). Finished sweeps are kept in a JSON-lines file
(:class:`SweepStore`), keyed like runs, so a comparison with ``--lr find`` resumes without sweeping again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import ravine
from ravine.lab.tasks import train
from ravine.lab.tasks.base import Task, TaskData, l2_penalty
from ravine.lab.tasks.store import RunStore
from ravine.lr_finder.finder import Progress, find_lr, needs_closure
from ravine.lr_finder.result import LRFinderResult
from ravine.lr_finder.settings import Sweep
from ravine.optim import registry

FORMAT = "ravine.lr-finder-sweep/1"
SUGGESTION_ONLY = ("rule", "skip_start", "skip_end", "budget", "batch_size")  # settings that do not change the curve


@dataclass(frozen=True)
class SweepSpec:
    """One sweep on a task: what determines its curve (the rule only picks among suggestions, so it is not here).

    Attributes:
        task: task name.
        optimizer: registry name or ``torch.<Name>``.
        seed: the run seed whose init and order streams the sweep uses (the protocol's tuning seed, 0).
        batch_size: examples per step, None for full batch.
        sweep: the range test's settings.
        subset: at most this many examples per split, or None.
        threads: torch threads.
        task_version: the task's version number.
    """

    task: str
    optimizer: str
    seed: int
    batch_size: int | None
    sweep: Sweep
    subset: int | None = None
    threads: int = 1
    task_version: int = 1

    def key(self) -> str:
        curve = {k: v for k, v in self.sweep.to_dict().items() if k not in SUGGESTION_ONLY}
        spec = {**asdict(self), "sweep": curve}
        ident = {"spec": spec, "format": FORMAT, "torch": torch.__version__, "ravine": ravine.__version__}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def label(self) -> str:
        return f"{self.optimizer} range test {self.sweep.start:g}..{self.sweep.end:g}"


def check_optimizer(name: str) -> None:
    """Refuse an optimiser whose step needs a closure before anything runs (registry names and torch.<Name>)."""
    entry = registry.entry(name)
    if needs_closure(entry.cls):
        raise ValueError(
            f"{name}: L-BFGS needs a closure and takes its step length from a line search, not from a learning "
            "rate, so an LR range test does not apply to it"
        )


def sweep(task: Task, data: TaskData, spec: SweepSpec, progress: Progress | None = None) -> LRFinderResult:
    """Run the range test ``spec`` on ``task``'s training part of ``data`` (already cut to ``spec.subset``)."""
    check_optimizer(spec.optimizer)
    if len(data.train) == 0:  # the batch size below would divide by zero: say what is wrong instead
        raise ValueError(f"batches is empty: the training split of {task.name} has no examples")
    with train.torch_threads(spec.threads):
        torch.manual_seed(train.stream_seed(spec.seed, 0))
        model = task.model()
        model.train()
        optimizer = registry.build(spec.optimizer, model.parameters(), lr=spec.sweep.start)
        order = torch.Generator().manual_seed(train.stream_seed(spec.seed, 1))
        n = len(data.train)
        size = n if spec.batch_size is None else min(spec.batch_size, n)
        per_epoch = math.ceil(n / size)
        batches: list[Tensor] = []
        while len(batches) < spec.sweep.steps:
            perm = torch.randperm(n, generator=order)
            batches += [perm[b * size : (b + 1) * size] for b in range(per_epoch)]
        return find_lr(
            model,
            optimizer,
            None,
            batches[: spec.sweep.steps],
            step=_objective(task, data),
            sweep=spec.sweep,
            progress=progress,
        )


def _objective(task: Task, data: TaskData) -> Callable[[nn.Module, torch.optim.Optimizer, Tensor], Tensor]:
    def step(model: nn.Module, optimizer: torch.optim.Optimizer, idx: Tensor) -> Tensor:
        x, y = data.train.batch(idx)
        optimizer.zero_grad(set_to_none=True)
        objective = task.head.loss(model(x), y) / len(idx)
        penalty = l2_penalty(model, task.l2)
        if penalty is not None:
            objective = objective + penalty
        objective.backward()
        optimizer.step()
        return objective.detach()

    return step


class SweepStore:
    """Finished sweeps, one JSON object per line, appended as each finishes (like :class:`RunStore`)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._lines = RunStore(path, record_format=FORMAT)
        self.path = self._lines.path
        self.records: dict[str, dict[str, Any]] = self._lines.records

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def get(self, spec: SweepSpec) -> LRFinderResult | None:
        """The stored sweep of ``spec``, its suggestions recomputed for ``spec.sweep``'s rule and trimming."""
        rec = self.records.get(spec.key())
        if rec is None:
            return None
        return rebuild(LRFinderResult.from_dict(rec["result"]), spec.sweep)

    def stored(self, spec: SweepSpec) -> LRFinderResult | None:
        """The sweep of ``spec`` with the settings it was last used with (its budget and rule), its suggestions
        recomputed by this version's rules (a record from an older version may hold others)."""
        rec = self.records.get(spec.key())
        if rec is None:
            return None
        result = LRFinderResult.from_dict(rec["result"])
        return rebuild(result, result.sweep)

    def add(self, spec: SweepSpec, result: LRFinderResult) -> None:
        rec = {
            "format": FORMAT,
            "key": spec.key(),
            "spec": {**asdict(spec), "sweep": spec.sweep.to_dict()},
            "result": result.to_dict(),
            "torch": torch.__version__,
            "ravine": ravine.__version__,
        }
        self._lines.add(rec)


def cached_sweep(
    task: Task, data: TaskData, spec: SweepSpec, store: SweepStore | None, progress: Progress | None = None
) -> tuple[LRFinderResult, bool]:
    """The sweep from ``store`` if it is there (True), else run and store it (False)."""
    if store is not None:
        found = store.get(spec)
        if found is not None:
            if store.records[spec.key()]["result"]["sweep"] != spec.sweep.to_dict():
                store.add(spec, found)  # the same curve, suggested for other settings: the latest use is kept
            return found, True
    result = sweep(task, data, spec, progress)
    if store is not None:
        store.add(spec, result)
    return result, False


def rebuild(result: LRFinderResult, sweep: Sweep) -> LRFinderResult:
    """``result``'s curve with the suggestions of ``sweep`` (another rule or trimming; same curve settings)."""
    return LRFinderResult.build(
        sweep, list(result.lrs), list(result.losses), list(result.smoothed), result.stop,
        optimizer=result.optimizer, family=result.family, wall_s=result.wall_s,
    )  # fmt: skip


def with_rule(spec: SweepSpec, rule: str) -> SweepSpec:
    return replace(spec, sweep=replace(spec.sweep, rule=rule))


def store_beside(runs_path: str | os.PathLike) -> Path:
    """Where a comparison keeps its sweeps: ``lr_finder.jsonl`` next to its ``runs.jsonl``."""
    return Path(runs_path).with_name("lr_finder.jsonl")


def protocol_spec(task: Task, protocol: Any, optimizer: str, train_size: int | None = None) -> SweepSpec:
    """The sweep ``protocol`` (resolved, ``tuning="find"``) makes for ``optimizer``: the tuning seed's run, its
    suggestion made for the protocol's budget (epochs x steps per epoch) when ``train_size`` is known."""
    from ravine.lab.tasks.protocol import TUNING_SEED

    batch = protocol.batch_size or task.batch_size
    size = None if batch == "full" else int(batch)
    sweep = protocol.finder or Sweep()
    if train_size is not None and sweep.budget is None:
        per_epoch = 1 if size is None else math.ceil(train_size / min(size, train_size))
        sweep = replace(sweep, budget=int(protocol.epochs or task.epochs) * per_epoch)
    if train_size is not None and sweep.batch_size is None:
        sweep = replace(sweep, batch_size=train_size if size is None else min(size, train_size))
    return SweepSpec(
        task=task.name,
        optimizer=optimizer,
        seed=TUNING_SEED,
        batch_size=size,
        sweep=sweep,
        subset=protocol.subset,
        threads=protocol.threads,
        task_version=task.version,
    )


def protocol_sweeps(
    task: Task,
    protocol: Any,
    data: TaskData | None,
    path: str | os.PathLike,
    progress: Callable[[int, int, int, int], None] | None = None,
    *,
    run: bool = True,
) -> dict[str, LRFinderResult]:
    """Each optimiser's sweep under ``protocol``: from the store at ``path``, else run (``run=False``: skip).

    Args:
        task: the task.
        protocol: a resolved :class:`ravine.lab.tasks.Protocol` with ``tuning="find"``.
        data: the task's data, already cut to ``protocol.subset`` (loaded here when None and a sweep must run).
        path: the sweep store.
        progress: ``progress(sweeps done, sweeps planned, step, steps)``.
        run: run the sweeps that are missing; False reads them as last stored (their suggestions as made then).
    """
    store = SweepStore(path)
    out: dict[str, LRFinderResult] = {}
    names = list(protocol.optimizers)
    if run and data is None:
        data = task.load(None).subset(protocol.subset)
    for i, opt in enumerate(names):
        spec = protocol_spec(task, protocol, opt, None if data is None else len(data.train))
        found = store.stored(spec) if not run else None
        if run:

            def report(step: int, total: int, lr: float, loss: float, i: int = i) -> None:
                if progress is not None:
                    progress(i, len(names), step, total)

            found, _ = cached_sweep(task, data, spec, store, report)
        if found is not None:
            out[opt] = found
        if progress is not None:
            progress(i + 1, len(names), 0, 0)
    return out


def suggested(result: LRFinderResult) -> float | None:
    """The default rule's rate, or None when the sweep gave no suggestion."""
    s = result.suggestions.get(result.sweep.rule)
    return None if s is None else s.lr
