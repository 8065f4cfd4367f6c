"""What every backend shares: the job the runs belong to, the executor interface, one run, and its failure.

A backend is a frozen, picklable configuration (:class:`Backend`); :meth:`Backend.open` starts its executor for
one comparison. The runner submits run specs up to the executor's ``capacity`` and polls it for the runs that
finished, in the order they finish, so the store persists each one at once and an interrupted comparison resumes.
Every run seeds itself and fixes its torch thread count inside :func:`ravine.lab.tasks.train.run`, so a record
does not depend on which backend, process or machine ran it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ravine.lab.tasks import train
from ravine.lab.tasks.base import Task, TaskData
from ravine.lab.tasks.spec import RunSpec

# (kind, run key, (steps done, steps planned)): kind is "start" or "progress"
Notify = Callable[[str, str, Any], None]
# (run key, record, None) for a run that finished, (run key, None, traceback) for one that raised
Finished = tuple[str, "dict[str, Any] | None", "str | None"]


class RunFailed(RuntimeError):
    """A run raised an exception or its worker process died.

    ``str(e)`` is one line (the run and the exception); ``e.details`` holds the full traceback, if any.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


def failure(what: str, trace: str) -> RunFailed:
    """A :class:`RunFailed` whose message is ``what`` and the last line of ``trace`` (the exception)."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return RunFailed(f"{what}: {lines[-1].strip() if lines else 'unknown error'}", trace)


def check_workers(workers: object) -> None:
    """Raise ValueError unless ``workers`` is an integer >= 1."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")


class MissingExtra(ImportError):
    """A backend needs an optional dependency that is not installed; the message says what to install."""


@dataclass(frozen=True)
class Job:
    """What every run of one comparison shares.

    Attributes:
        task: the task.
        data: its data, already cut to ``subset`` (in-process and Ray runs use it).
        data_dir: where the task's data files are (worker processes of the pool load their own copy).
        subset: at most this many examples per split, or None.
        threads: torch threads per run (a Ray run reserves as many CPUs).
    """

    task: Task
    data: TaskData
    data_dir: str | None
    subset: int | None
    threads: int


class Executor(Protocol):
    """A backend started for one comparison."""

    capacity: int  # runs it executes at once; the runner keeps that many submitted

    def submit(self, spec: RunSpec) -> None:
        """Start ``spec`` (or queue it); returns at once."""

    def poll(self, notify: Notify) -> list[Finished]:
        """The runs that finished since the last call, waiting a little (< 1 s) for one; progress goes to
        ``notify``. Raises :class:`RunFailed` when a worker dies."""

    def close(self) -> None:
        """Stop what :meth:`Backend.open` started (workers, a local Ray), also while runs are in flight."""


class Backend(Protocol):
    """Where the runs execute: :class:`~ravine.lab.backends.Inline`, :class:`~ravine.lab.backends.Pool` or
    :class:`~ravine.lab.backends.Ray`."""

    name: str  # recorded in the results' environment
    workers: int | None  # runs at once; None: as many as the backend finds CPUs for

    def open(self, job: Job) -> Executor:
        """Start executing runs of ``job``."""


def run_one(task: Task, data: TaskData, spec: RunSpec, notify: Notify) -> Finished:
    """Train one run; its exception, if any, comes back as a traceback instead of propagating."""
    key = spec.key()
    started = False

    def progress(step: int, total: int) -> None:
        nonlocal started
        notify("progress" if started else "start", key, (step, total))
        started = True

    try:
        record = train.run(task, data, spec, progress=progress)
    except Exception:
        return key, None, traceback.format_exc()
    return key, record, None
