"""Run a comparison: plan the runs, execute them on a backend, persist each one as it finishes.

Runs whose key is already in the store are not run again, so an interrupted comparison resumes where it
stopped. The optimisers' seed runs are planned as soon as their grid is complete. Where the runs execute is the
backend's business (:mod:`ravine.lab.backends`: this process, spawned processes, Ray tasks); each run fixes its
own thread count and seeds, so results depend neither on the backend nor on the number of workers.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

import ravine
from ravine.lab.backends.base import Backend, Executor, Job, RunFailed, check_workers, failure
from ravine.lab.backends.inline import Inline
from ravine.lab.backends.pool import Pool
from ravine.lab.tasks.base import Task, TaskData
from ravine.lab.tasks.protocol import Protocol, choose_lr, dedupe
from ravine.lab.tasks.spec import RunSpec
from ravine.lab.tasks.store import RunStore
from ravine.lab.tasks.summary import summarize

RESULTS_FORMAT = "ravine.task-comparison/1"

__all__ = ["Event", "RunFailed", "compare", "environment", "results"]


@dataclass
class Event:
    """What the runner tells its caller (for progress displays): ``kind`` is ``plan``, ``start``,
    ``progress``, ``finish`` or ``cached``; ``done`` and ``planned`` count runs of the whole comparison.
    With ``tuning="find"``, ``sweep`` events come first: ``done``/``planned`` count the range tests, ``step``
    and ``total`` the steps of the current one."""

    kind: str
    done: int
    planned: int
    spec: RunSpec | None = None
    step: int = 0
    total: int = 0
    record: dict[str, Any] | None = None


@dataclass
class _Plan:
    """The runs still to do, and the grids whose completion unlocks seed runs."""

    task: Task
    protocol: Protocol
    store: RunStore
    queued: list[RunSpec] = field(default_factory=list)
    planned: dict[str, RunSpec] = field(default_factory=dict)
    open_grids: dict[str, list[RunSpec]] = field(default_factory=dict)

    def add(self, specs: list[RunSpec]) -> list[RunSpec]:
        """Plan ``specs`` (ignoring known ones); returns those already in the store."""
        cached = []
        for s in dedupe(specs):
            if s.key() in self.planned:
                continue
            self.planned[s.key()] = s
            (cached if s.key() in self.store else self.queued).append(s)
        return cached

    def unlocked(self) -> list[RunSpec]:
        """Seed runs of every optimiser whose grid is now complete."""
        out = []
        for opt, grid in list(self.open_grids.items()):
            if all(s.key() in self.store for s in grid):
                del self.open_grids[opt]
                lr = choose_lr(self.task, [self.store.records[s.key()] for s in grid])
                if lr is not None:
                    out += self.protocol.seed_runs(self.task, opt, lr)
        return out

    def done(self) -> int:
        return sum(k in self.store for k in self.planned)


def compare(
    task: Task,
    protocol: Protocol,
    store: RunStore,
    *,
    data: TaskData | None = None,
    data_dir: str | os.PathLike | None = None,
    workers: int = 1,
    backend: Backend | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> dict[str, Any]:
    """Run ``protocol`` on ``task`` and return the results document (see :func:`results`).

    Args:
        task: the task.
        protocol: what to run; resolved against the task's defaults here.
        store: finished runs; new runs are appended to it as they finish.
        data: the task's data, as ``task.load(data_dir)`` gives it (loaded here if None). Worker processes
            of the pool load their own copy from ``data_dir``.
        data_dir: where the task's data files are.
        workers: worker processes (>= 1) when no ``backend`` is given: 1 runs in this process, more in a pool.
        backend: where the runs execute (:mod:`ravine.lab.backends`, e.g. ``Ray(address=...)``); it carries
            its own number of workers, so ``workers`` must then stay 1.
        on_event: called with progress :class:`Event` s.

    Raises:
        RunFailed: a run raised or a worker died (finished runs stay in the store).
        ValueError: ``workers`` < 1, or ``workers`` given beside a ``backend``.
    """
    check_workers(workers)
    if backend is None:
        backend = Inline() if workers == 1 else Pool(workers)
    elif workers != 1:
        raise ValueError(f"workers={workers} given beside backend={backend!r}: give the workers to the backend")
    protocol = protocol.resolve(task)
    emit = on_event or (lambda e: None)
    if data is None:
        data = task.load(data_dir)
    data = data.subset(protocol.subset)
    plan = _Plan(task, protocol, store)
    found = _find_rates(task, protocol, data, store, emit)
    for opt in protocol.optimizers:
        plan.open_grids[opt] = protocol.grid_runs(task, opt)
        plan.add(protocol.grid_runs(task, opt) + protocol.default_runs(task, opt))
        if found.get(opt) is not None:
            plan.add(protocol.seed_runs(task, opt, found[opt]))
    plan.add(plan.unlocked())
    cached = [plan.planned[k] for k in plan.planned if k in store]
    emit(Event("plan", plan.done(), len(plan.planned)))
    for s in cached:
        emit(Event("cached", plan.done(), len(plan.planned), spec=s, record=store.get(s.key())))
    started = time.perf_counter()
    ran_on = backend.workers
    if plan.queued:  # a finished comparison starts no workers (a local Ray takes seconds)
        job = Job(task, data, None if data_dir is None else str(data_dir), protocol.subset, protocol.threads)
        executor = backend.open(job)
        ran_on = executor.capacity
        try:
            _drive(plan, executor, emit)
        finally:
            executor.close()
    wall_s = time.perf_counter() - started
    return results(task, protocol, store, workers=ran_on, backend=backend.name, wall_s=wall_s)


def _find_rates(
    task: Task, protocol: Protocol, data: TaskData | None, store: RunStore, emit: Callable[[Event], None]
) -> dict[str, float | None]:
    """``tuning="find"``: each optimiser's range-test suggestion (swept here, or read from the sweep store)."""
    if protocol.tuning != "find":
        return {}
    from ravine.lr_finder import lab as finder_lab

    def progress(i: int, k: int, step: int, total: int) -> None:
        emit(Event("sweep", i, k, step=step, total=total))

    found = finder_lab.protocol_sweeps(task, protocol, data, finder_lab.store_beside(store.path), progress)
    return {opt: finder_lab.suggested(r) for opt, r in found.items()}


def _drive(plan: _Plan, executor: Executor, emit: Callable[[Event], None]) -> None:
    in_flight: dict[str, RunSpec] = {}

    def notify(kind: str, key: str, payload: Any) -> None:
        spec = in_flight[key]
        step, total = payload
        emit(Event(kind, plan.done(), len(plan.planned), spec=spec, step=step, total=total))

    while plan.queued or in_flight:
        while plan.queued and len(in_flight) < executor.capacity:
            s = plan.queued.pop(0)
            in_flight[s.key()] = s
            executor.submit(s)
        for key, record, error in executor.poll(notify):
            spec = in_flight.pop(key)
            if error is not None:
                raise failure(f"run {spec.label()} failed", error)
            plan.store.add(record)
            cached = plan.add(plan.unlocked())
            emit(Event("finish", plan.done(), len(plan.planned), spec=spec, record=record))
            for s in cached:
                emit(Event("cached", plan.done(), len(plan.planned), spec=s, record=plan.store.get(s.key())))


def environment(protocol: Protocol, workers: int | None, backend: str | None = None) -> dict[str, Any]:
    """Where and how the comparison ran (``backend``: its name; None: ``inline`` or ``pool`` by ``workers``)."""
    return {
        "ravine": ravine.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "backend": backend or ("inline" if workers == 1 else "pool"),
        "workers": workers,
        "torch_threads_per_run": protocol.threads,
    }


def results(
    task: Task,
    protocol: Protocol,
    store: RunStore,
    *,
    workers: int | None = 1,
    backend: str | None = None,
    wall_s: float | None = None,
) -> dict[str, Any]:
    """The results document: task, protocol, environment, ranked summary and every run of the protocol."""
    protocol = protocol.resolve(task)
    sweeps = _stored_sweeps(task, protocol, store)
    chosen = (
        None if sweeps is None else {opt: sweeps[opt]["lr"] if opt in sweeps else None for opt in protocol.optimizers}
    )
    summary = summarize(task, protocol, store.records, chosen)
    keys: list[str] = []
    for opt in protocol.optimizers:
        specs = protocol.grid_runs(task, opt) + protocol.default_runs(task, opt)
        row = next(r for r in summary if r["optimizer"] == opt)
        if row["chosen_lr"] is not None:
            specs += protocol.seed_runs(task, opt, row["chosen_lr"])
        keys += [s.key() for s in dedupe(specs) if s.key() in store]
    return {
        "format": RESULTS_FORMAT,
        "task": task.describe(),
        "protocol": protocol.to_dict(),
        "environment": environment(protocol, workers, backend),
        "wall_s": wall_s,
        "complete": all(_complete(row, protocol) for row in summary),
        "summary": summary,
        "runs": [store.records[k] for k in keys],
        **({} if sweeps is None else {"lr_finder": sweeps}),
    }


def _stored_sweeps(task: Task, protocol: Protocol, store: RunStore) -> dict[str, dict[str, Any]] | None:
    """``tuning="find"``: the range tests' records by optimiser, from the sweep store beside ``store``."""
    if protocol.tuning != "find":
        return None
    from ravine.lr_finder import lab as finder_lab

    found = finder_lab.protocol_sweeps(task, protocol, None, finder_lab.store_beside(store.path), None, run=False)
    return {opt: r.to_dict() for opt, r in found.items()}


def _complete(row: dict[str, Any], protocol: Protocol) -> bool:
    tuned_ok = row["chosen_lr"] is None or (row["tuned"] is not None and row["tuned"]["n"] == protocol.seeds)
    default_ok = not protocol.defaults or (row["default"] is not None and row["default"]["n"] == protocol.seeds)
    grid = 0 if protocol.tuning == "find" else len(protocol.lr_grid or ())
    return len(row["grid"]) == grid and tuned_ok and default_ok
