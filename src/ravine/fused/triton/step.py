"""Which parameters the Triton kernel takes, its kernels' specs, and a step of the general (unprepared) path.

Everything is checked before a launch, so that nothing the kernel cannot take reaches it: tensor subclasses,
dtypes other than float32/float64 (and bfloat16/float16 with float32 state, see below), non-contiguous memory,
a gradient or a state on another device, sparse or complex tensors. Those keep the reference path.

Mixed precision: with ``Optimizer(..., state_dtype=torch.float32)``, bfloat16 and float16 parameters keep
float32 state; the step reads ``p`` and ``g``, computes in float32 and rounds ``p`` once, as the reference path
does in that mode (:mod:`ravine.optim.precision`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.fused import traced
from ravine.fused.triton import handles, kernels
from ravine.fused.triton.codegen import TritonSpec, emit
from ravine.fused.triton.launch import launch, prepare, set_hyper

NAME = {torch.float32: "f32", torch.float64: "f64", torch.bfloat16: "bf16", torch.float16: "f16"}
SCALAR = (torch.float32, torch.float64)
_PLAIN = (Tensor, torch.nn.Parameter)


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """What a parameter of ``dtype`` is updated in: itself for float32/float64, float32 for 16-bit floats."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def fusable(p: Tensor, g: Tensor, state: dict, mixed: bool) -> bool:
    """Whether the Triton kernel can take this parameter (``mixed``: the optimiser keeps float32 state for
    16-bit parameters). A 0-dim state on the CPU is allowed: :func:`adopt` moves it to the device."""
    if not handles(p.device):  # first: on a CPU-only run this is all it costs (Triton is not even imported)
        return False
    if type(p) not in _PLAIN or type(g) not in _PLAIN or type(state) is not dict:
        return False
    if p.dtype not in NAME or g.dtype != p.dtype or g.device != p.device:
        return False
    if p.dtype not in SCALAR and not mixed:
        return False
    if g.is_sparse or not (p.is_contiguous() and g.is_contiguous()) or p.is_conj() or p.is_neg():
        return False
    elem = compute_dtype(p.dtype)
    for v in state.values():
        if type(v) is not Tensor:
            return False
        if v.dim() > 0:
            if v.dtype != elem or v.shape != p.shape or v.device != p.device or not v.is_contiguous():
                return False
        elif v.dtype not in SCALAR or (v.device != p.device and v.device.type != "cpu"):
            return False
    return True


def adopt(p: Tensor, state: dict) -> None:
    """Move 0-dim state (the step) to the parameter's device, once: the kernel reads and advances it there, so a
    step never waits for the host (torch keeps it on the device for fused and capturable optimisers too)."""
    for k, v in state.items():
        if v.dim() == 0 and v.device != p.device:
            state[k] = v.to(p.device)


def storage_key(p: Tensor, g: Tensor, state: dict) -> tuple:
    return (NAME[p.dtype], NAME[g.dtype], str(p.device))


def spec(
    optimizer: Any, key: tuple, seg: Any, group: Mapping[str, Any], p: Tensor, state: Mapping[str, Tensor],
    reductions: Mapping[int, Mapping[str, Any]],
) -> TritonSpec:  # fmt: skip
    """The kernel of one batch, traced once per structure and kept with the optimiser's other specs."""
    full = ("triton", key, tuple((i, tuple(sorted(r))) for i, r in reductions.items()))
    found = optimizer._specs.get(full)
    if found is None:
        T = NAME[compute_dtype(p.dtype)]
        scalars = {k: NAME[state[k].dtype] for k in optimizer._scalar_keys() if k in state}
        tr = traced.trace_step(seg.rules, group, T, scalars, reductions)
        storage = {"p": NAME[p.dtype], "g": NAME[p.dtype]}
        found = optimizer._specs[full] = emit(tr, storage)
    return found


def batches(optimizer: Any, params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict],
            groups: Sequence[dict], skip: Sequence[bool]) -> dict[tuple, list[int]]:  # fmt: skip
    """Indices of the parameters this backend takes, by kernel (dtype and group structure)."""
    out: dict[tuple, list[int]] = {}
    mixed = getattr(optimizer, "state_dtype", None) is not None
    group_keys: dict[int, tuple] = {}
    for i, (p, g, st, group) in enumerate(zip(params, grads, states, groups, strict=True)):
        if skip[i] or not fusable(p, g, st, mixed):
            continue
        adopt(p, st)
        gk = group_keys.get(id(group))
        if gk is None:
            gk = group_keys[id(group)] = optimizer._group_key(group)
        key = (optimizer._structure_key(group, p.dtype, st, gk), storage_key(p, g, st))
        out.setdefault(key, []).append(i)
    return out


def run(optimizer: Any, seg: Any, b: Any, reductions: Mapping[int, Mapping[str, Any]]) -> list[bool]:
    """The Triton kernel on every parameter of ``b`` it can take; returns which it took (the caller bumps their
    autograd versions)."""
    mask = [False] * len(b.params)
    for key, idx in batches(optimizer, b.params, b.grads, b.states, b.groups, mask).items():
        i0 = idx[0]
        sp = spec(optimizer, key, seg, b.groups[i0], b.params[i0], b.states[i0], reductions)
        if kernels.is_broken(sp.source):
            continue
        pick = [b.params[i] for i in idx], [b.grads[i] for i in idx], [b.states[i] for i in idx]
        batch = prepare(sp, *pick, [b.groups[i] for i in idx])
        set_hyper(batch)
        try:
            launch(batch, reductions)
        except Exception as e:  # a Triton that cannot compile this kernel must not stop the training run
            if optimizer.fused is True:
                raise
            kernels.mark_broken(sp.source, e)
            continue
        for i in idx:
            mask[i] = True
    return mask
