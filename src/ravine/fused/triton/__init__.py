"""The fused step on GPUs: one Triton kernel per batch, generated from the same traced graph as the C kernel.

:mod:`ravine.optim.execute` hands this backend every parameter it can take (:func:`ravine.fused.triton.step.fusable`)
when Triton is installed and the tensors are on a CUDA device; everything else keeps its path (the C kernel on CPU,
the reference path otherwise). Without a GPU, :func:`interpret_cpu` routes CPU tensors through Triton's
interpreter instead, which runs the very kernels on numpy: that is how the tests check this backend everywhere.
Design, exactness and what waits for a GPU: docs/gpu.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import lru_cache

import torch

_interpret_cpu = False


@lru_cache(maxsize=1)
def importable() -> bool:
    """Whether ``import triton`` works here."""
    try:
        import triton
        import triton.language  # noqa: F401
    except Exception:  # an incompatible or broken install must not break the optimisers
        return False
    return True


def handles(device: torch.device) -> bool:
    """Whether this backend takes tensors on ``device``: CUDA with Triton installed, or CPU under
    :func:`interpret_cpu`."""
    if device.type == "cuda":
        return importable() and torch.cuda.is_available()
    if device.type == "cpu":
        return _interpret_cpu and importable()
    return False


@contextlib.contextmanager
def interpret_cpu(on: bool = True) -> Iterator[None]:
    """Within this block, CPU tensors take the Triton kernel, run by Triton's interpreter (numpy), instead of the
    C kernel: for testing the generated kernels on a machine without a GPU. It is slow; results are those the
    GPU kernel is meant to compute (see docs/gpu.md for the one place they may differ)."""
    global _interpret_cpu
    old, _interpret_cpu = _interpret_cpu, on
    try:
        yield
    finally:
        _interpret_cpu = old
