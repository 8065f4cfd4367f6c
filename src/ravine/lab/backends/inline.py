"""The runs one after the other in this process (``workers=1``, the default)."""

from __future__ import annotations

from dataclasses import dataclass

from ravine.lab.backends.base import Finished, Job, Notify, run_one
from ravine.lab.tasks import train
from ravine.lab.tasks.spec import RunSpec


@dataclass(frozen=True)
class Inline:
    """Run in this process, one at a time, on the data already loaded."""

    name = "inline"
    workers = 1

    def open(self, job: Job) -> _InlineExecutor:
        return _InlineExecutor(job)


class _InlineExecutor:
    capacity = 1

    def __init__(self, job: Job) -> None:
        self.job = job
        self.pending: list[RunSpec] = []
        train.warm_up()

    def submit(self, spec: RunSpec) -> None:
        self.pending.append(spec)

    def poll(self, notify: Notify) -> list[Finished]:
        return [run_one(self.job.task, self.job.data, self.pending.pop(0), notify)] if self.pending else []

    def close(self) -> None:
        pass
