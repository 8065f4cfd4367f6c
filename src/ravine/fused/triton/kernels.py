"""Load generated Triton kernels: one file per source, one in-process cache keyed by the source.

Triton reads a kernel's source with :mod:`inspect`, so each generated source is written once to
``<cache>/triton/rv_<digest>.py`` (see :mod:`ravine.paths`) and imported from there. A module is imported twice at
most: once for the GPU, where ``rv_pow`` is CUDA's libdevice ``pow``, and once for the interpreter, where it is
numpy's (the interpreter has no libdevice). Triton itself caches each compiled specialisation (per dtype of the
arguments and per ``BLOCK`` / ``ALIGNED``), so a kernel compiles once per process and configuration; numbers such
as ``lr`` are data in ``hyper``, never part of a key.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
from typing import Any

from ravine.paths import cache_dir

_cache: dict[tuple[str, bool], Any] = {}
_broken: set[str] = set()
_lock = threading.Lock()
log = logging.getLogger("ravine.fused")


def is_broken(source: str) -> bool:
    """Whether this Triton failed to compile or launch ``source`` before (its tensors then take the reference path)."""
    return source in _broken


def mark_broken(source: str, error: BaseException) -> None:
    if source not in _broken:
        _broken.add(source)
        log.warning("ravine: the Triton kernel failed (%s: %s); its parameters take the reference path",
                    type(error).__name__, str(error)[:500])  # fmt: skip


def cache_size() -> int:
    """How many kernels this process has loaded (tests use it to prove schedules never add one)."""
    return len(_cache)


def _interp_pow(a: Any, b: Any) -> Any:
    """``a ** b`` on float64 scalars under the interpreter: the C library's ``pow`` element by element (``math.pow``),
    as Python's ``**`` is -- so the interpreter reproduces the reference path's per-step scalars exactly.

    Not ``np.power``: on CPUs with AVX-512 numpy takes a vectorised ``pow`` that is not the C library's and can be
    1 ulp away (seen on an AMD EPYC), which bias corrections carry into float64 parameters.
    """
    import math

    import numpy as np
    import triton.language as tl
    from triton.runtime.interpreter import TensorHandle

    x, y = np.broadcast_arrays(a.handle.data.astype(np.float64), b.handle.data.astype(np.float64))

    def pow_(u: float, v: float) -> float:
        try:
            return math.pow(u, v)
        except ValueError:  # a negative base to a fractional power: NaN, as np.power gives
            return math.nan
        except OverflowError:
            return math.copysign(math.inf, u) if v == int(v) and int(v) % 2 else math.inf

    data = np.array([pow_(u, v) for u, v in zip(x.ravel().tolist(), y.ravel().tolist(), strict=True)])
    return tl.tensor(TensorHandle(data.reshape(x.shape), tl.float64), tl.float64)


def _path(source: str) -> Any:
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    d = cache_dir() / "triton"
    path = d / f"rv_{digest}.py"
    if not path.exists() or path.read_text() != source:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="rv_", suffix=".py", dir=d)
        with os.fdopen(fd, "w") as f:
            f.write(source)
        os.replace(tmp, path)  # atomic: a concurrent process sees the old file or the whole new one
    return path


def kernel(source: str, interpret: bool) -> Any:
    """The launchable kernel for ``source``: a ``triton.JITFunction`` or, with ``interpret``, Triton's interpreter
    running it on CPU tensors."""
    key = (source, interpret)
    with _lock:
        fn = _cache.get(key)
        if fn is not None:
            return fn
        path = _path(source)
        name = f"ravine_triton_{path.stem}_{'interp' if interpret else 'jit'}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        if interpret:
            from triton.runtime.interpreter import InterpretedFunction

            module.rv_pow = _interp_pow
            spec.loader.exec_module(module)
            fn = InterpretedFunction(module.rv_step)
        else:
            import triton
            from triton.language.extra import libdevice

            module.rv_pow = libdevice.pow
            spec.loader.exec_module(module)
            fn = triton.jit(module.rv_step)
        _cache[key] = fn
        return fn
