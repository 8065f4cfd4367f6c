"""Where a comparison's runs execute: in this process, in a pool of local processes, or as Ray tasks.

Every backend takes run specs and hands back each record as soon as its run finishes (the runner stores it at
once, so an interrupted comparison resumes), and every run seeds itself and fixes its threads, so the records are
bit-identical whichever backend ran them.

Example:
    >>> from ravine.lab.backends import Kind, make
    >>> make(Kind.POOL, workers=2)
    Pool(workers=2)
    >>> make(Kind.POOL, workers=1)
    Inline()
"""

from __future__ import annotations

from enum import Enum

# The task lab first: its runner imports the backends, and the backends import its modules; starting from the lab
# resolves that cycle in the one order that works, whichever of the two a program imports first.
import ravine.lab.tasks  # noqa: F401  # isort: skip
from ravine.lab.backends.base import (
    Backend,
    Executor,
    Finished,
    Job,
    MissingExtra,
    Notify,
    RunFailed,
    check_workers,
)
from ravine.lab.backends.inline import Inline
from ravine.lab.backends.pool import Pool
from ravine.lab.backends.ray_tasks import Ray


class Kind(str, Enum):
    """The backends ``ravine compare TASK --backend`` names."""

    POOL = "pool"  # this machine: the runs in this process (workers=1) or in spawned processes
    RAY = "ray"  # Ray tasks on a local Ray or, with an address, on a cluster


def make(kind: Kind, *, workers: int | None = None, address: str | None = None) -> Backend:
    """The backend ``kind`` with ``workers`` runs at once.

    Args:
        kind: :attr:`Kind.POOL` or :attr:`Kind.RAY`.
        workers: runs at once (>= 1). Pool: default 1, which runs in this process. Ray: default as many as the
            Ray cluster has CPUs for (``cpus // threads``).
        address: Ray only: the cluster to connect to (``host:6379``, ``auto`` or ``ray://host:10001``); None
            starts a local Ray.

    Raises:
        ValueError: ``workers`` < 1, or an ``address`` for the pool.
        MissingExtra: ``kind`` is Ray and Ray is not installed.
    """
    kind = Kind(kind)
    if kind is Kind.RAY:
        return Ray(address=address, workers=workers)
    if address is not None:
        raise ValueError(f"address applies to the ray backend only, got address={address!r} with backend {kind.value}")
    workers = 1 if workers is None else workers
    check_workers(workers)
    return Inline() if workers == 1 else Pool(workers)


__all__ = [
    "Backend",
    "Executor",
    "Finished",
    "Inline",
    "Job",
    "Kind",
    "MissingExtra",
    "Notify",
    "Pool",
    "Ray",
    "RunFailed",
    "make",
]
