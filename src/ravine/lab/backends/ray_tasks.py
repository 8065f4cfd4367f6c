"""The runs as Ray tasks (https://docs.ray.io): on a local Ray started here, or on a cluster at ``address``.

Ray is an optional extra (``pip install 'ravine[ray]'``); it is imported only when this backend is chosen. The
task and its data go to Ray's object store once, pickled (Ray would otherwise hand the workers read-only NumPy
arrays, which torch cannot safely wrap); each run is one task reserving ``threads`` CPUs, and seeds
itself and fixes its torch threads inside :func:`ravine.lab.tasks.train.run`, so its record is the same bits as
the process pool's on the same machine and torch build.

The workers must import the same ravine as this process (a stale install on a node would silently change the
results): a local Ray started here puts this ravine's directory first on the workers' ``PYTHONPATH``; connecting
to a cluster ships this ravine's package to the workers (Ray's ``py_modules``). Every task checks a fingerprint
of the ravine sources it imported against this process's, and fails with the two paths if they differ.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import site
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ravine
from ravine.lab.backends.base import Finished, Job, MissingExtra, Notify, RunFailed, check_workers, run_one
from ravine.lab.tasks import train
from ravine.lab.tasks.base import Task, TaskData
from ravine.lab.tasks.spec import RunSpec

INSTALL_HINT = "pip install 'ravine[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or :class:`MissingExtra` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise MissingExtra(f"the ray backend needs Ray, which is not installed: {INSTALL_HINT}") from e
    return ray


@dataclass(frozen=True)
class Ray:
    """Ray tasks, ``workers`` at a time.

    Args:
        address: the cluster (``head:6379``, ``auto``, or ``ray://head:10001`` with ``ray[client]`` installed);
            None starts a local Ray with
            ``workers * threads`` CPUs and shuts it down afterwards. If Ray is already initialised in this
            process, that Ray is used as it is (and left running); its workers must be able to import ravine.
        workers: runs at once (>= 1); None: as many as the cluster has CPUs for (``CPUs // threads``; locally
            ``os.cpu_count() // threads``).

    Raises:
        MissingExtra: Ray is not installed.
        ValueError: ``workers`` < 1 or an empty ``address``.
    """

    address: str | None = None
    workers: int | None = None
    name = "ray"

    def __post_init__(self) -> None:
        if self.workers is not None:
            check_workers(self.workers)
        if self.address is not None and (not isinstance(self.address, str) or not self.address.strip()):
            raise ValueError(f"address must be a Ray address such as head:6379 or auto, got {self.address!r}")
        import_ray()  # fail before any data is loaded, with the install hint

    def open(self, job: Job) -> _RayExecutor:
        return _RayExecutor(self, job)


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Initialise Ray so that its workers import this ravine, unless Ray is already initialised.

    Args:
        address: a cluster to connect to (this ravine's package is shipped to its workers), or None for a new
            local Ray of ``num_cpus`` CPUs (its workers find this ravine on their ``PYTHONPATH``).
        num_cpus: CPUs of a local Ray (None: all of this machine's).

    Returns:
        Whether this call initialised Ray (the caller then shuts it down).

    Raises:
        RunFailed: Ray could not start, or nothing answers at ``address``.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    package = Path(ravine.__file__).resolve().parent
    quiet = {"logging_level": logging.WARNING, "include_dashboard": False}
    try:
        if address is None:
            ray.init(address="local", num_cpus=num_cpus, runtime_env=_local_env(package), **quiet)
        else:
            ray.init(address=address, runtime_env={"py_modules": [str(package)]}, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:  # what ray.init raises for a wrong or dead address
        where = "start a local Ray" if address is None else f"connect to Ray at {address}"
        raise RunFailed(f"could not {where}: {str(e).strip().splitlines()[0]}", traceback.format_exc()) from None
    return True


def _local_env(package: Path) -> dict[str, Any]:
    """The runtime environment of a local Ray's workers: this ravine's directory first on their ``PYTHONPATH``,
    unless it is a site-packages directory (the workers find it there anyway, and putting it on ``PYTHONPATH``
    would let installed packages shadow the standard library)."""
    sites = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if package.parent in sites:
        return {}
    path = [str(package.parent), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"env_vars": {"PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}}


@functools.cache
def source_fingerprint() -> str:
    """A hash of the ravine sources this process imports (paths and contents of its .py, .c and .h files)."""
    root = Path(ravine.__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.suffix in (".py", ".c", ".h") and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def where() -> tuple[str, str]:
    """This process's ravine: the file it was imported from and :func:`source_fingerprint`."""
    return ravine.__file__, source_fingerprint()


_job_cache: dict[str, tuple[Task, TaskData]] = {}


def _job(ref: Any) -> tuple[Task, TaskData]:
    """The task and data behind ``ref``, unpickled once per worker process and comparison."""
    if ref.hex() not in _job_cache:
        import ray

        _job_cache.clear()  # one comparison at a time: keep only its data in memory
        _job_cache[ref.hex()] = pickle.loads(ray.get(ref))
    return _job_cache[ref.hex()]


def run_on_worker(job: list[Any], spec: RunSpec, fingerprint: str) -> Finished:
    """The body of one Ray task: check the worker's ravine, then train the run (progress is not reported).

    ``job`` is ``[ref]``, the object reference of the pickled task and data, inside a list so that Ray hands over
    the reference rather than its value.
    """
    try:
        path, mine = where()
        if mine != fingerprint:
            raise RuntimeError(
                f"this Ray worker imports ravine from {path}, whose sources differ from the driver's "
                f"(fingerprint {mine} != {fingerprint}); put the same ravine on the workers' path"
            )
        task, data = _job(job[0])
        train.warm_up()  # the first time in this worker process: seconds that would count in the run's timing
    except Exception:
        return spec.key(), None, traceback.format_exc()
    return run_one(task, data, spec, lambda kind, key, payload: None)


class _RayExecutor:
    """Submitted runs as Ray object references; :meth:`poll` collects the ones that finished."""

    def __init__(self, backend: Ray, job: Job) -> None:
        self.ray = ray = import_ray()
        local = backend.workers or max(1, (os.cpu_count() or 1) // job.threads)
        self.started = connect(backend.address, None if backend.address is not None else local * job.threads)
        self.refs: dict[Any, str] = {}
        try:
            cpus = int(ray.cluster_resources().get("CPU", 0))
            self.capacity = backend.workers or max(1, cpus // job.threads)
            self.job = [ray.put(pickle.dumps((job.task, job.data), protocol=pickle.HIGHEST_PROTOCOL))]
            # A run that dies with its worker is reported, as the pool does, not retried: rerunning resumes.
            self.remote = ray.remote(run_on_worker).options(num_cpus=job.threads, max_retries=0)
        except BaseException:
            self.close()
            raise

    def submit(self, spec: RunSpec) -> None:
        self.refs[self.remote.remote(self.job, spec, source_fingerprint())] = spec.key()

    def poll(self, notify: Notify) -> list[Finished]:  # runs under Ray report no progress
        if not self.refs:
            return []
        ready, _ = self.ray.wait(list(self.refs), num_returns=1, timeout=0.2)
        if ready:  # and every other one that is done by now
            ready, _ = self.ray.wait(list(self.refs), num_returns=len(self.refs), timeout=0)
        finished = []
        for ref in ready:
            key = self.refs.pop(ref)
            try:
                finished.append(self.ray.get(ref))
            except self.ray.exceptions.RayError as e:  # the worker or its node died, or the task was cancelled
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                raise RunFailed(f"Ray task of run {key} failed: {type(e).__name__}: {first}", str(e)) from None
        return finished

    def close(self) -> None:
        for ref in self.refs:
            self.ray.cancel(ref, force=True)
        self.refs.clear()
        if self.started:
            self.ray.shutdown()
