"""A pool of spawned worker processes on this machine (``workers`` > 1).

Workers are ``spawn``-ed (no fork after torch has started its threads); each loads the task's data once and then
takes run specs from one queue and sends progress and records back on another.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
import traceback
from dataclasses import dataclass
from typing import Any

from ravine.lab.backends.base import Finished, Job, Notify, RunFailed, check_workers, failure, run_one
from ravine.lab.tasks import train
from ravine.lab.tasks.base import Task
from ravine.lab.tasks.spec import RunSpec


@dataclass(frozen=True)
class Pool:
    """``workers`` spawned processes on this machine.

    Args:
        workers: processes, each running one run at a time (>= 1).
    """

    workers: int
    name = "pool"

    def __post_init__(self) -> None:
        check_workers(self.workers)

    def open(self, job: Job) -> _PoolExecutor:
        return _PoolExecutor(job.task, job.data_dir, job.subset, self.workers)


class _PoolExecutor:
    """Workers ignore SIGINT: on Ctrl-C the parent stops, and :meth:`close` terminates the workers it started."""

    def __init__(self, task: Task, data_dir: str | None, subset: int | None, workers: int) -> None:
        ctx = mp.get_context("spawn")
        self.capacity = workers
        self.inbox = ctx.Queue()
        self.outbox = ctx.Queue()
        self.procs = [
            ctx.Process(
                target=_worker,
                args=(task, data_dir, subset, self.inbox, self.outbox),
                daemon=True,
                name=f"ravine-task-worker-{i}",
            )
            for i in range(workers)
        ]
        for p in self.procs:
            p.start()
        self.running: dict[int, str] = {}

    def submit(self, spec: RunSpec) -> None:
        self.inbox.put(spec)

    def poll(self, notify: Notify) -> list[Finished]:
        finished: list[Finished] = []
        deadline = time.monotonic() + 0.2
        while not finished:
            try:
                kind, pid, key, payload = self.outbox.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self._check_alive()
                if time.monotonic() >= deadline:
                    return finished
                continue
            if kind == "done":
                self.running.pop(pid, None)
                finished.append((key, payload, None))
            elif kind == "error":
                self.running.pop(pid, None)
                finished.append((key, None, payload))
            elif kind == "fatal":
                raise failure(f"worker process {pid} could not start", payload)
            else:
                self.running[pid] = key
                notify(kind, key, payload)
        return finished

    def _check_alive(self) -> None:
        # Workers only leave when closed: one that is gone crashed (or was killed, e.g. for memory).
        for p in self.procs:
            if not p.is_alive():
                doing = f" while running {self.running[p.pid]}" if p.pid in self.running else ""
                raise RunFailed(f"worker process {p.pid} died (exit code {p.exitcode}){doing}")

    def close(self) -> None:
        for p in self.procs:
            if p.is_alive():
                p.terminate()
        for p in self.procs:
            p.join(timeout=10)
        self.inbox.close()
        self.outbox.close()


def _worker(
    task: Task, data_dir: str | None, subset: int | None, inbox: mp.Queue, outbox: mp.Queue
) -> None:  # pragma: no cover - runs in the worker process (its behaviour is tested through compare)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pid = os.getpid()
    try:
        data = task.load(data_dir).subset(subset)
        train.warm_up()
    except Exception:
        outbox.put(("fatal", pid, "", traceback.format_exc()))
        return

    def notify(kind: str, key: str, payload: Any) -> None:
        outbox.put((kind, pid, key, payload))

    while True:
        spec = inbox.get()
        if spec is None:
            return
        key, record, error = run_one(task, data, spec, notify)
        outbox.put(("done", pid, key, record) if error is None else ("error", pid, key, error))
