"""Mixed precision: 16-bit parameters with float32 state, updated in float32 and rounded once per step.

With ``Optimizer(..., state_dtype=torch.float32)``, a bfloat16 or float16 parameter keeps its elementwise state
(Adam's moments, momentum buffers, ...) in float32. Each step reads ``p`` and the gradient, widens both to float32
(exactly), runs the rule's equations in float32, and writes ``p <- round(p - lr * u)``: one rounding to 16 bits per
step instead of one per operation, and moments that keep their small increments. The fused Triton kernel computes
the same bits in one pass (:mod:`ravine.fused.triton`).

This is not fp32 master weights: ``p`` itself is 16-bit, so an update smaller than half its ulp is lost (the
stagnation that stochastic rounding or master weights address). References: Micikevicius et al., "Mixed Precision
Training" (ICLR 2018); Kalamkar et al., "A Study of BFLOAT16 for Deep Learning Training" (2019).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

LOW = (torch.bfloat16, torch.float16)


def check(state_dtype: torch.dtype | None) -> None:
    if state_dtype not in (None, torch.float32):
        raise ValueError(f"state_dtype must be None (the parameter's dtype) or torch.float32, got {state_dtype!r}")


def _widened(optimizer: Any, p: Tensor) -> bool:
    return getattr(optimizer, "state_dtype", None) is not None and p.dtype in LOW


def state_like(optimizer: Any, p: Tensor) -> Tensor:
    """What the rules initialise their state from: ``p`` itself, or its float32 value in mixed precision."""
    return p.detach().to(torch.float32) if _widened(optimizer, p) else p


def upcast(optimizer: Any, u: Any, p: Tensor) -> tuple[Any, Tensor]:
    """The update and the parameter as the equations see them: widened to float32 in mixed precision."""
    if not _widened(optimizer, p):
        return u, p
    return u.to(torch.float32), p.to(torch.float32)
