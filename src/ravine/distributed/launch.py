"""Run functions on several local processes that share a ``torch.distributed`` process group, as ``torchrun`` would.

:func:`launch` is for scripts, tests and notebooks on one machine: it spawns ``world_size`` fresh interpreters
(``spawn``, never ``fork``: torch's thread pools do not survive a fork), gives them one process group (gloo by
default, the backend that runs on CPU), calls ``fn(*args)`` in each and returns what each rank returned.
:class:`Ranks` keeps the processes and their group alive between calls, so that many short jobs pay for starting
the interpreters and importing torch once.

The rendezvous store is held by the calling process on a port the operating system picks, so concurrent launches
on one machine never race for a "free" port. Failures come back as exceptions of the caller: a rank that raises
(its traceback attached), a rank that dies (its signal named, e.g. SIGSEGV), or a job that exceeds ``timeout``;
after a failure the processes are stopped (the others may be waiting in a collective that will never complete).

The function must be importable by the new interpreters: defined at module level in a module, or in the script
being run (which then needs the usual ``if __name__ == "__main__":`` guard of ``multiprocessing``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import queue
import signal
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

__all__ = ["RankFailed", "Ranks", "launch"]


class RankFailed(RuntimeError):
    """A rank raised, died, or did not finish in time. ``rank`` is the first rank that failed (None: timeout);
    ``details`` is its traceback, when it had one."""

    def __init__(self, message: str, rank: int | None = None, details: str = "") -> None:
        super().__init__(message + (f"\n--- rank {rank} ---\n{details}" if details else ""))
        self.rank = rank
        self.details = details
        self.intact = False  # whether the other ranks finished, so that the processes could be kept


def _check_int(name: str, x: Any, low: int) -> None:
    if isinstance(x, bool) or not isinstance(x, int) or x < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")


def _check_timeout(x: Any) -> None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not x > 0:
        raise ValueError(f"timeout must be in (0, inf) seconds, got {x!r}")


class Ranks:
    """``world_size`` local processes with one process group, running jobs until closed.

    Each :meth:`run` calls ``fn(*args)`` on every rank, inside the initialised group (``dist.get_rank()``,
    ``dist.get_world_size()``; ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` set as by ``torchrun --standalone``), and
    returns the ranks' results in rank order. Processes start at the first job; after a failed job they are
    stopped and the next job starts fresh ones.

    Args:
        world_size: number of processes, >= 1.
        backend: ``"gloo"`` (CPU) or another backend torch was built with.
        timeout: seconds a job may take, > 0 (collectives also time out after it); :meth:`run` may override it.
        threads: ``torch.set_num_threads`` in each process, >= 1 (1 keeps the ranks from fighting over cores).
        env: extra environment variables for the processes.

    Example:
        >>> with Ranks(2) as ranks:  # doctest: +SKIP
        ...     ranks.run(my_module.train, 10)   # -> [result of rank 0, result of rank 1]
    """

    def __init__(
        self,
        world_size: int,
        *,
        backend: str = "gloo",
        timeout: float = 120.0,
        threads: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        _check_int("world_size", world_size, 1)
        _check_int("threads", threads, 1)
        _check_timeout(timeout)
        if not isinstance(backend, str) or not backend:
            raise ValueError(f"backend must be a backend name such as 'gloo', got {backend!r}")
        self.world_size, self.backend, self.timeout, self.threads = world_size, backend, float(timeout), threads
        self.env = dict(env or {})
        self._procs: list = []
        self._inboxes: list = []
        self._outbox: Any = None
        self._store: Any = None

    # -- public -----------------------------------------------------------------------------------------------
    def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> list[Any]:
        """``fn(*args)`` on every rank; returns ``[result of rank 0, ...]``. Raises :class:`RankFailed`."""
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        limit = self.timeout if timeout is None else timeout
        _check_timeout(limit)
        if not self._procs:
            self._start()
        job = pickle.dumps((fn, args, limit))
        for box in self._inboxes:
            box.put(job)
        try:
            return self._collect(limit)
        except RankFailed as failure:
            if not failure.intact:
                self.close()
            raise
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the processes (asking first, then terminating)."""
        procs, self._procs = self._procs, []
        for box in self._inboxes:
            with contextlib.suppress(Exception):
                box.put(None)
        deadline = time.monotonic() + 5
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        for q in [*self._inboxes, self._outbox]:
            if q is not None:
                q.close()
        self._inboxes, self._outbox, self._store = [], None, None

    def __enter__(self) -> Ranks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # -- internals --------------------------------------------------------------------------------------------
    def _start(self) -> None:
        import torch.distributed as dist

        if not dist.is_available():
            raise RankFailed("this torch build has no torch.distributed")
        n = self.world_size
        self._store = dist.TCPStore("127.0.0.1", 0, n + 1, is_master=True, wait_for_workers=False,
                                    timeout=timedelta(seconds=self.timeout))  # fmt: skip
        ctx = mp.get_context("spawn")
        self._outbox = ctx.Queue()
        self._inboxes = [ctx.Queue() for _ in range(n)]
        config = (n, self._store.port, self.backend, self.timeout, self.threads, self.env)
        self._procs = [
            ctx.Process(
                target=_rank_main,
                args=(rank, config, self._inboxes[rank], self._outbox),
                name=f"ravine-rank-{rank}",
                daemon=True,
            )
            for rank in range(n)
        ]
        for p in self._procs:
            p.start()

    def _collect(self, limit: float) -> list[Any]:
        out: dict[int, Any] = {}
        deadline = time.monotonic() + limit
        while len(out) < self.world_size:
            try:
                rank, ok, blob = self._outbox.get(timeout=0.1)
            except queue.Empty:
                self._check_alive(out)
                if time.monotonic() > deadline:
                    missing = sorted(set(range(self.world_size)) - set(out))
                    raise RankFailed(f"ranks {missing} did not finish within {limit} s") from None
                continue
            try:
                _accept(out, rank, ok, blob)
            except RankFailed as failure:
                self._settle(failure, {rank, *out})
                raise
        return [out[r] for r in range(self.world_size)]

    def _settle(self, failure: RankFailed, reported: set[int], grace: float = 10.0) -> None:
        """After a rank raised: wait a moment for the others. If they all report, the processes are idle and
        are kept (``failure.intact``). A rank that died makes the others fail in their next collective
        ("connection reset"), so a death in that moment is raised instead, as the cause."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and len(reported) < self.world_size:
            for rank, p in enumerate(self._procs):
                if p.exitcode is not None and p.exitcode != 0:
                    raise RankFailed(f"rank {rank} died ({_describe_exit(p.exitcode)})", rank) from failure
            with contextlib.suppress(queue.Empty):
                reported.add(self._outbox.get(timeout=0.05)[0])
        failure.intact = len(reported) == self.world_size

    def _check_alive(self, out: dict[int, Any]) -> None:
        for rank, p in enumerate(self._procs):
            if rank in out or p.exitcode is None:
                continue
            # It may have sent its result (or traceback) just before exiting: read what is queued first.
            with contextlib.suppress(queue.Empty):
                while True:
                    _accept(out, *self._outbox.get(timeout=0.5))
            if rank not in out:
                raise RankFailed(f"rank {rank} died ({_describe_exit(p.exitcode)})", rank)


def launch(
    fn: Callable[..., Any],
    world_size: int,
    *args: Any,
    backend: str = "gloo",
    timeout: float = 120.0,
    threads: int = 1,
    env: dict[str, str] | None = None,
) -> list[Any]:
    """Call ``fn(*args)`` on ``world_size`` new processes that share a process group; return each rank's result.

    One job on a fresh :class:`Ranks` (see there for the arguments), closed afterwards.

    Example:
        >>> def rank_and_size():  # in an importable module  # doctest: +SKIP
        ...     import torch.distributed as dist
        ...     return dist.get_rank(), dist.get_world_size()
        >>> launch(rank_and_size, 2)  # doctest: +SKIP
        [(0, 2), (1, 2)]
    """
    with Ranks(world_size, backend=backend, timeout=timeout, threads=threads, env=env) as ranks:
        return ranks.run(fn, *args)


def _accept(out: dict[int, Any], rank: int, ok: bool, blob: bytes) -> None:
    if not ok:
        details = blob.decode()
        last = [ln for ln in details.strip().splitlines() if ln.strip()]
        raise RankFailed(f"rank {rank} raised {last[-1].strip() if last else 'an exception'}", rank, details)
    out[rank] = pickle.loads(blob)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _rank_main(rank: int, config: tuple, inbox: Any, outbox: Any) -> None:  # pragma: no cover - a spawned process
    world_size, port, backend, timeout, threads, env = config
    os.environ.update(env)
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        LOCAL_WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    try:
        import torch
        import torch.distributed as dist

        torch.set_num_threads(threads)
        store = dist.TCPStore("127.0.0.1", port, world_size + 1, is_master=False, timeout=timedelta(seconds=timeout))
        dist.init_process_group(backend, store=store, rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=timeout))  # fmt: skip
    except BaseException:
        outbox.put((rank, False, traceback.format_exc().encode()))
        return
    try:
        while True:
            job = inbox.get()
            if job is None:
                return
            try:
                fn, args, _ = pickle.loads(job)
                outbox.put((rank, True, pickle.dumps(fn(*args))))
            except BaseException:
                outbox.put((rank, False, traceback.format_exc().encode()))
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
