"""Compile generated kernels with the system C compiler, cache them on disk, load them with ctypes.

Compiling a kernel takes about half a second and happens once per machine and kernel: the shared object is kept
under ``<cache>/kernels/`` (see :mod:`ravine.paths`), named by a hash of its source, the compiler and its flags.
Builds run in a background thread; until one is ready, the optimiser takes the reference path, which computes
the same bits, so a run's results never depend on when the build finished.

The kernel is linked against the OpenMP runtime torch has already loaded (``libgomp.so.1`` on Linux), so its
threads are torch's threads: no second pool competes for the cores.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ravine.paths import cache_dir

log = logging.getLogger("ravine.fused")

_BASE_FLAGS = ["-O3", "-std=gnu11", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno"]
# -ffp-contract=off: no FMA may merge a multiply and an add, or the kernel would round differently from the
# eager ops. -fno-math-errno only lets sqrt vectorise; it changes no result. Never -ffast-math.


@dataclass(frozen=True)
class Toolchain:
    compiler: str
    flags: tuple[str, ...]
    identity: str  # compiler version and target, part of every cache key

    @property
    def openmp(self) -> bool:
        return "-fopenmp" in self.flags


class BuildError(RuntimeError):
    """The C compiler is missing or failed; the reference path keeps working."""


@lru_cache(maxsize=1)
def toolchain() -> Toolchain | None:
    """The first working compiler and the best flags it accepts, or None (then only the reference path runs)."""
    candidates = [os.environ.get("CC"), "cc", "gcc", "clang"]
    probe = (
        "#include <math.h>\nint f(int n, float* x){\n#pragma omp parallel for\n"
        "for(int i=0;i<n;i++) x[i]=sqrtf(x[i]);\nreturn 0;}\n"
    )
    for cc in candidates:
        path = shutil.which(cc) if cc else None
        if not path:
            continue
        try:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for extra in (["-march=native", "-fopenmp"], ["-fopenmp"], ["-march=native"], []):
            flags = tuple(_BASE_FLAGS + extra)
            if _compiles(path, flags, probe):
                ident = f"{path}|{version.splitlines()[0] if version else ''}|{platform.machine()}|{_cpu_id()}"
                return Toolchain(path, flags, ident)
    return None


def _cpu_id() -> str:
    """-march=native code must not be reused on another CPU that shares the cache directory."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return hashlib.sha256(line.encode()).hexdigest()[:12]
    except OSError:
        pass
    return platform.processor() or "unknown"


def _compiles(cc: str, flags: tuple[str, ...], source: str) -> bool:
    with tempfile.TemporaryDirectory(prefix="ravine-probe-") as d:
        src = Path(d) / "probe.c"
        src.write_text(source)
        try:
            r = subprocess.run([cc, *flags, str(src), "-o", str(Path(d) / "probe.so")], capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return r.returncode == 0


class Kernel:
    """A loaded kernel: ``rv_step`` with its ctypes signature."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lib = ctypes.CDLL(str(path))
        fn = lib.rv_step
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_int64] + [ctypes.c_void_p] * 6 + [ctypes.c_int]
        self._lib, self.fn = lib, fn


_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ravine-build")
_futures: dict[str, Future] = {}
_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked worker has no build thread: futures inherited from the parent would never finish."""
    global _pool, _lock
    _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ravine-build")
    _lock = threading.Lock()
    _futures.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def kernel_path(source: str, tc: Toolchain) -> Path:
    key = hashlib.sha256(f"{tc.identity}|{' '.join(tc.flags)}|{source}".encode()).hexdigest()[:24]
    return cache_dir() / "kernels" / f"rv_{key}.so"


def _build(source: str, tc: Toolchain, label: str) -> Kernel:
    path = kernel_path(source, tc)
    if path.exists():
        return Kernel(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ravine-build-", dir=path.parent) as d:
        src = Path(d) / "kernel.c"
        src.write_text(source)
        tmp = Path(d) / path.name
        r = subprocess.run([tc.compiler, *tc.flags, str(src), "-o", str(tmp), "-lm"], capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError(f"compiling the fused kernel for {label} failed:\n{r.stderr[-2000:]}")
        os.replace(tmp, path)  # atomic: a concurrent process sees the old state or the whole file
    log.info("ravine: built fused kernel for %s in %.2f s (cached at %s)", label, time.perf_counter() - t0, path)
    return Kernel(path)


def request(source: str, label: str, wait: bool) -> Kernel | None:
    """The kernel for ``source``: loaded at once when cached, else built in the background.

    Returns None while the build is running (``wait=False``) or when no compiler is available.
    Raises :class:`BuildError` if the build failed, or, with ``wait=True``, if there is no compiler.
    """
    tc = toolchain()
    if tc is None:
        if wait:
            raise BuildError("no working C compiler found (tried $CC, cc, gcc, clang); use fused=False or None")
        return None
    digest = hashlib.sha256(source.encode()).hexdigest()
    with _lock:
        fut = _futures.get(digest)
        if fut is None:
            if kernel_path(source, tc).exists():
                fut = Future()
                fut.set_result(Kernel(kernel_path(source, tc)))
            else:
                log.info(
                    "ravine: building a fused kernel for %s in the background (about 1 s, once per machine); "
                    "the reference path runs meanwhile, with identical results",
                    label,
                )
                fut = _pool.submit(_build, source, tc, label)
            _futures[digest] = fut
    if not wait and not fut.done():
        return None
    return fut.result()
