"""Running one optimiser step: gather the parameters, then the fused kernel or the reference path.

Both paths execute :func:`ravine.rules.base.segment_math`; the fused kernel is that function traced to C. A
parameter goes to the fused kernel when it is a contiguous float32/float64 CPU tensor, the chain is elementwise
(a reducing rule may come first), the kernel is built, and nothing is being compiled by ``torch.compile``.
Everything else -- CUDA tensors, other dtypes, opaque rules, reductions in mid-chain -- takes the reference path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.fused import build, codegen
from ravine.fused.plan import Plan, distinct_groups, launch
from ravine.rules.base import Chain, ElementwiseRule, Rule, is_final, scalar_dtype, segment_math, write_back


@dataclass
class Segment:
    """Consecutive rules that run as one pass; ``reducing`` if its first rule needs all updates first."""

    rules: list[Rule]
    elementwise: bool

    @property
    def reducing(self) -> bool:
        return self.elementwise and self.rules[0].reduce is not None


def segments(rule: Rule) -> list[Segment]:
    """Split a chain where a pass over all tensors must end: before a reducing rule, around an opaque one."""
    out: list[Segment] = []
    for r in rule.rules if isinstance(rule, Chain) else (rule,):
        if not isinstance(r, ElementwiseRule):
            out.append(Segment([r], False))
        elif r.reduce is not None or not out or not out[-1].elementwise:
            out.append(Segment([r], True))
        else:
            out[-1].rules.append(r)
    return out


@dataclass
class Batch:
    """The parameters of one step that have gradients, flattened over groups."""

    params: list[Tensor] = field(default_factory=list)
    grads: list[Tensor] = field(default_factory=list)
    states: list[dict] = field(default_factory=list)
    groups: list[dict] = field(default_factory=list)


def gather(optimizer: Any) -> Batch:
    """Parameters with gradients, their (initialised) state and group; checks what torch checks."""
    b = Batch()
    rule = optimizer.rule
    for group in optimizer.param_groups:
        keys = rule.state_keys(group)
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                raise RuntimeError(
                    f"{type(optimizer).__name__} does not support sparse gradients (parameter of shape "
                    f"{tuple(p.shape)}); use dense gradients, e.g. nn.Embedding(sparse=False)"
                )
            if p.is_complex() and not rule.supports_complex:
                raise RuntimeError(
                    f"{type(optimizer).__name__} does not support complex parameters (got a {p.dtype} parameter of "
                    f"shape {tuple(p.shape)}; only real floating-point parameters are allowed)"
                )
            state = optimizer.state[p]
            if "step" not in state or any(k not in state for k in keys):
                _init_state(rule, p, state, group)
            if p.is_complex():
                # As torch.optim does: a complex number is two real coordinates, each updated on its own.
                p, g = torch.view_as_real(p), torch.view_as_real(g)
                state = _RealView(state)
            b.params.append(p)
            b.grads.append(g)
            b.states.append(state)
            b.groups.append(group)
    return b


class _RealView(dict):
    """A parameter's state with complex tensors seen as real ones (same memory: writes land in the state)."""

    def __init__(self, state: dict) -> None:
        super().__init__((k, torch.view_as_real(v) if v.is_complex() else v) for k, v in state.items())


def _init_state(rule: Rule, p: Tensor, state: dict, group: dict) -> None:
    if "step" not in state:
        # torch's SGD keeps no step: its checkpoints resume as "not the first step", which is all a step of 1 says.
        start = 1.0 if state else 0.0
        state["step"] = torch.tensor(start, dtype=scalar_dtype())
    missing = [k for k in rule.state_keys(group) if k not in state]
    if missing:
        fresh = rule.init(p, group)
        for k in missing:
            state[k] = fresh[k]


def run_step(optimizer: Any) -> dict[str, int]:
    """One step of ``optimizer`` (an :class:`ravine.optim.Optimizer`); returns how many tensors took each path."""
    segs = optimizer._segments
    steady = len(segs) == 1 and segs[0].elementwise and optimizer.fused is not False
    steady = steady and not torch.compiler.is_compiling()
    if steady and optimizer._plan is not None:
        if optimizer._plan.signature == _signature(optimizer) and optimizer._plan.step(optimizer):
            return {"fused": len(optimizer._plan.params), "reference": 0}
        optimizer._plan = None
    counts = _general_step(optimizer)
    n_params = sum(len(g["params"]) for g in optimizer.param_groups)
    if steady and counts["reference"] == 0 and counts["fused"] == n_params:
        try:
            optimizer._plan = Plan.build(optimizer, _signature(optimizer), segs[0], optimizer._last_reductions)
        except LookupError:
            optimizer._plan = None
    return counts


def _signature(optimizer: Any) -> tuple:
    """What a plan depends on: each group's structure and its parameters."""
    return tuple((optimizer._group_key(g), tuple(map(id, g["params"]))) for g in optimizer.param_groups)


def _general_step(optimizer: Any) -> dict[str, int]:
    b = gather(optimizer)
    counts = {"fused": 0, "reference": 0}
    if not b.params:
        return counts
    segs = optimizer._segments
    updates: Sequence[Any] = b.grads
    first_done = False
    for si, seg in enumerate(segs):
        last = si == len(segs) - 1
        if not seg.elementwise:
            if not first_done:
                for st in b.states:
                    st["step"].add_(1)
                first_done = True
            updates = seg.rules[0].update(updates, b.params, b.states, b.groups)
            if last:
                for p, u, group in zip(b.params, updates, b.groups, strict=True):
                    if seg.rules[0].final:
                        p.copy_(u)  # a final rule returns the new value (ravine.rules.base.Rule.final)
                    else:
                        p.sub_(u * group["lr"])
            continue
        reductions: dict[int, dict] = {}
        if seg.reducing:
            reductions[0] = seg.rules[0].reduce(updates, b.groups)
            optimizer._report(seg.rules[0], reductions[0])
        optimizer._last_reductions = reductions
        first = not first_done
        first_done = True
        final = is_final(seg.rules)
        fused_mask = [False] * len(b.params)
        if len(segs) == 1 and optimizer.fused is not False:
            fused_mask = _run_fused(optimizer, seg, b, reductions)
        out = []
        for i, (p, u, st, group) in enumerate(zip(b.params, updates, b.states, b.groups, strict=True)):
            if fused_mask[i]:
                out.append(None)
                continue
            values = dict(st)
            r = segment_math(seg.rules, u, p, values, group, group, reductions, first=first, last=last)
            write_back(st, values)
            if last:
                if final:
                    p.copy_(r)
                else:
                    p.sub_(r)
            out.append(r)
        counts["fused"] += sum(fused_mask)
        updates = out
    # per parameter: only a single-segment chain is ever fused, so every other parameter took the reference path
    counts["reference"] = len(b.params) - counts["fused"]
    return counts


def fusable(p: Tensor, g: Tensor, state: dict) -> bool:
    """Whether the kernel can take this parameter: contiguous float32/64 CPU memory everywhere it writes."""
    if p.device.type != "cpu" or p.dtype not in codegen.DTYPE_NAME or g.dtype != p.dtype:
        return False
    if not (p.is_contiguous() and g.is_contiguous()):
        return False
    for v in state.values():
        if v.device.type != "cpu" or not v.is_contiguous():
            return False
        if v.dim() > 0 and (v.dtype != p.dtype or v.shape != p.shape):
            return False
        if v.dim() == 0 and v.dtype not in codegen.DTYPE_NAME:
            return False
    return True


def _run_fused(optimizer: Any, seg: Segment, b: Batch, reductions: dict[int, dict]) -> list[bool]:
    mask = [False] * len(b.params)
    if torch.compiler.is_compiling():
        return mask
    wait = optimizer.fused is True
    batches: dict[tuple, list[int]] = {}
    group_keys: dict[int, tuple] = {}
    for i, (p, g, st, group) in enumerate(zip(b.params, b.grads, b.states, b.groups, strict=True)):
        if not fusable(p, g, st):
            if wait:
                raise ValueError(
                    f"fused=True needs contiguous float32/float64 CPU tensors; got a {p.dtype} parameter on "
                    f"{p.device} (contiguous: {p.is_contiguous()}); use fused=None to fall back per tensor"
                )
            continue
        gk = group_keys.get(id(group))
        if gk is None:
            gk = group_keys[id(group)] = optimizer._group_key(group)
        key = optimizer._structure_key(group, p.dtype, st, gk)
        batches.setdefault(key, []).append(i)
    for key, idx in batches.items():
        group0 = b.groups[idx[0]]
        spec = optimizer._spec(key, seg, group0, b.params[idx[0]].dtype, b.states[idx[0]], reductions)
        kernel = build.request(spec.source, optimizer._label(b.params[idx[0]].dtype), wait=wait)
        if kernel is None:
            continue
        _call(
            kernel,
            spec,
            [b.params[i] for i in idx],
            [b.grads[i] for i in idx],
            [b.states[i] for i in idx],
            [b.groups[i] for i in idx],
            reductions,
        )
        for i in idx:
            mask[i] = True
    if any(mask):
        torch.autograd.graph.increment_version([p for p, m in zip(b.params, mask, strict=True) if m])
    return mask


def _call(
    kernel: build.Kernel,
    spec: codegen.KernelSpec,
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict],
    groups: list[dict],
    reductions: dict[int, dict],
) -> None:
    """The kernel on an unprepared batch (the general path): addresses and group rows gathered for this step."""
    ptrs = np.empty((len(params), len(spec.slots)), dtype=np.uint64)
    for j, (p, g, st) in enumerate(zip(params, grads, states, strict=True)):
        ptrs[j] = [p.data_ptr() if name == "p" else g.data_ptr() if name == "g" else st[name].data_ptr()
                   for name in spec.slots]  # fmt: skip
    distinct, group_of = distinct_groups(groups)
    numel = np.array([p.numel() for p in params], dtype=np.int64)
    scratch = np.empty(max(len(params) * spec.carried, 1), dtype=np.float64)
    launch(kernel, spec, numel, ptrs, group_of, distinct, reductions, scratch)
