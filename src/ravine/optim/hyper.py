"""Hyperparameters as the equations read them: a tensor ``lr`` or ``betas`` member as its number.

torch accepts 1-element tensors for ``lr`` and ``betas`` (so that ``torch.compile`` and CUDA graphs need not
recompile when they change). The fused kernels read every hyperparameter as a double (:mod:`ravine.fused.traced`),
so the reference path must too: a tensor hyperparameter then gives, bit for bit, the run of the float of the same
value, whichever path a parameter takes. torch instead does the per-step scalar arithmetic (``1 - beta1**t``,
``lr / bias_correction``) in the tensor's dtype, usually float32, so its tensor runs differ from its float runs by
float32 rounding of those scalars (its own tests compare them at float32 tolerance).

Rules that are not elementwise (Adafactor, Muon, Shampoo, ...) have no kernel to agree with; they read the group
as given, so a tensor ``lr`` is multiplied as torch multiplies it and their runs stay torch's bit for bit.

Tensors are kept as they are where their value is part of a graph: with ``differentiable=True`` (gradients flow to
them, see :mod:`ravine.optim.differentiable`), when they require grad, under ``torch.compile`` (reading a value
would break the graph), and off the CPU (reading would synchronise the device).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor


def _number(v: Any) -> Any:
    if isinstance(v, Tensor):
        if v.requires_grad or v.numel() != 1 or v.device.type != "cpu" or v.is_meta:
            return v
        return v.item()
    if isinstance(v, tuple) and any(isinstance(x, Tensor) for x in v):
        return tuple(_number(x) for x in v)
    return v


def as_numbers(group: Mapping[str, Any]) -> Mapping[str, Any]:
    """``group`` with its 1-element CPU tensor hyperparameters as Python numbers (``group`` itself if it has none,
    or if the group is differentiable or ``torch.compile`` is tracing)."""
    if group.get("differentiable") or torch.compiler.is_compiling():
        return group
    out = None
    for k, v in group.items():
        if k == "params":
            continue
        n = _number(v)
        if n is not v:
            out = dict(group) if out is None else out
            out[k] = n
    return group if out is None else out
