"""Running one optimiser step: gather the parameters, then the fused kernel or the reference path.

Both paths execute :func:`ravine.rules.base.segment_math`; the fused kernels are that function traced to C (CPU)
and to Triton (CUDA, :mod:`ravine.fused.triton`). A parameter goes to a fused kernel when the chain is elementwise
(a reducing rule may come first), nothing is being compiled by ``torch.compile`` or transformed by
``torch.func``, and the tensor suits a backend: for the C kernel (built), the parameter, its gradient and its state
must be memory the kernel can take (:mod:`ravine.fused.guard`: plain contiguous float32/64 CPU tensors, not empty,
overlapping nothing else the step touches); or a CUDA tensor the Triton kernel takes (with Triton installed).
Everything else -- other dtypes and layouts, tensor subclasses, aliased memory, opaque rules, reductions in
mid-chain, CUDA without Triton -- takes the reference path, which is torch's own operations.

DTensor parameters (FSDP2) of an elementwise chain are stepped on their local shards, which is exactly the
DTensor step (:mod:`ravine.distributed.dtensor`); reductions still see the DTensor gradients.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch._subclasses.fake_tensor import is_fake

from ravine.distributed import dtensor
from ravine.fused import build, codegen, guard
from ravine.fused import triton as gpu
from ravine.fused.plan import Plan, distinct_groups, launch
from ravine.fused.triton import step as gpu_step
from ravine.optim import differentiable, hyper, precision, sparse
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
    reduce_grads: list[Tensor] = field(default_factory=list)  # what a leading reduction sees (DTensors stay)
    owners: list[Tensor] = field(default_factory=list)  # DTensor parameters stepped through their local shards
    views: set[int] = field(default_factory=set)  # indices whose state is a real view of complex state
    sparse_rows: set[int] = field(default_factory=set)  # indices stepped on their sparse gradient's rows


def gather(optimizer: Any, local: bool = False) -> Batch:
    """Parameters with gradients, their (initialised) state and group; checks what torch checks.

    With ``local`` (an elementwise chain), a DTensor parameter whose gradient and state share its layout is
    represented by its local shard (:func:`ravine.distributed.dtensor.local_view`).
    """
    b = Batch()
    rule = optimizer.rule
    for group in optimizer.param_groups:
        keys = rule.state_keys(group)
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            if g.is_sparse:
                mode = optimizer._sparse_mode(group)  # may raise torch's error (weight decay with sparse gradients)
                if mode == "dense":
                    g = g.to_dense()
                    sparse.densify_state(optimizer.state[p])
                elif mode == "rows":
                    b.sparse_rows.add(len(b.params))
                else:
                    raise RuntimeError(
                        f"{type(optimizer).__name__} does not support sparse gradients (parameter of shape "
                        f"{tuple(p.shape)}); use dense gradients, e.g. nn.Embedding(sparse=False)"
                    )
            elif getattr(optimizer, "sparse_only", False):
                raise RuntimeError(
                    f"{type(optimizer).__name__} does not support dense gradients, please consider Adam instead"
                )
            if g.shape != p.shape:
                # Possible after `p.data = <other shape>`; torch would broadcast or fail deep inside an op.
                raise RuntimeError(
                    f"{type(optimizer).__name__}: a parameter of shape {tuple(p.shape)} has a gradient of shape "
                    f"{tuple(g.shape)}; they must match (set p.grad = None after changing p.data)"
                )
            if p.is_complex() and not rule.supports_complex:
                raise RuntimeError(
                    f"{type(optimizer).__name__} does not support complex parameters (got a {p.dtype} parameter of "
                    f"shape {tuple(p.shape)}; only real floating-point parameters are allowed)"
                )
            state = optimizer.state[p]
            if "step" not in state or any(k not in state for k in keys):
                unstepped = id(p) in getattr(optimizer, "_unstepped", ())
                _init_state(rule, precision.state_like(optimizer, p), state, group, optimizer.capturable, unstepped)
            global_g = None
            if local and dtensor.is_dtensor(p):
                view = dtensor.local_view(p, g, state)
                if view is not None:
                    # Views on the same memory: what the step writes lands in the DTensors.
                    b.owners.append(p)
                    global_g = g
                    p, g, state = view
            if p.is_complex():
                # As torch.optim does: a complex number is two real coordinates, each updated on its own.
                p, g = torch.view_as_real(p), torch.view_as_real(g.resolve_conj())
                state = {k: torch.view_as_real(v) if v.is_complex() else v for k, v in state.items()}
                b.views.add(len(b.params))
            b.params.append(p)
            b.grads.append(g)
            b.states.append(state)
            b.groups.append(group)
            b.reduce_grads.append(g if global_g is None else global_g)
    return b


def _init_state(
    rule: Rule, p: Tensor, state: dict, group: dict, capturable: bool = False, unstepped: bool = False
) -> None:
    if "step" not in state:
        # torch's SGD keeps no step: its checkpoints resume as "not the first step", which is all a step of 1 says
        # -- unless the state is what a distributed checkpoint created before any step (ravine.distributed).
        start = 1.0 if state and not unstepped else 0.0
        state["step"] = torch.tensor(start, dtype=scalar_dtype(), device=p.device if capturable else None)
    missing = [k for k in rule.state_keys(group) if k not in state]
    if missing:
        fresh = rule.init(p, group)
        for k in missing:
            state[k] = fresh[k]


def run_step(optimizer: Any) -> dict[str, int]:
    """One step of ``optimizer`` (an :class:`ravine.optim.Optimizer`); returns how many tensors took each path."""
    segs = optimizer._segments
    steady = len(segs) == 1 and segs[0].elementwise and optimizer.fused is not False
    steady = steady and not torch.compiler.is_compiling() and not guard.transforms_active()
    steady = steady and not optimizer.differentiable
    if steady and optimizer._plan is not None:
        if optimizer._plan.signature == _signature(optimizer) and optimizer._plan.step(optimizer):
            return {"fused": len(optimizer._plan.params), "reference": 0}
        optimizer._plan = None
    if optimizer.capturable and _capturing(optimizer):
        raise RuntimeError(
            f"{type(optimizer).__name__}.step() is being captured in a CUDA graph but cannot run as the prepared "
            "Triton step (it needs Triton, every parameter on one CUDA device in a form the kernel takes, and one "
            "eager step before the capture to prepare it); see docs/gpu.md"
        )
    counts = _general_step(optimizer)
    n_params = sum(len(g["params"]) for g in optimizer.param_groups)
    if steady and counts["reference"] == 0 and counts["fused"] == n_params:
        try:
            optimizer._plan = _build_plan(optimizer, segs[0])
        except LookupError:
            optimizer._plan = None
    return counts


def _capturing(optimizer: Any) -> bool:
    return torch.cuda.is_available() and torch.cuda.is_current_stream_capturing()


def _build_plan(optimizer: Any, seg: Segment) -> Any:
    """The steady-state plan of the backend that took every parameter (Triton when it handles their device)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if params and all(gpu.handles(p.device) for p in params):
        from ravine.fused.triton.plan import TritonPlan

        return TritonPlan.build(optimizer, _signature(optimizer), seg, optimizer._last_reductions)
    return Plan.build(optimizer, _signature(optimizer), seg, optimizer._last_reductions)


def _signature(optimizer: Any) -> tuple:
    """What a plan depends on: each group -- the dict itself, which the plan reads hyperparameters from and which
    ``load_state_dict`` replaces -- its structure and its parameters."""
    return tuple((id(g), optimizer._group_key(g), tuple(map(id, g["params"]))) for g in optimizer.param_groups)


def _general_step(optimizer: Any) -> dict[str, int]:
    segs = optimizer._segments
    # One elementwise pass: each DTensor's step is the step of its local shard (see the module docstring).
    b = gather(optimizer, local=len(segs) == 1 and segs[0].elementwise and not torch.compiler.is_compiling())
    counts = {"fused": 0, "reference": 0}
    if not b.params:
        return counts
    updates: Sequence[Any] = b.grads
    # what elementwise equations read: tensor hyperparameters as numbers, as the kernel reads them (ravine.optim.hyper)
    numbers = {id(g): hyper.as_numbers(g) for g in optimizer.param_groups}
    diff = optimizer.differentiable  # an autograd-visible step (ravine.optim.differentiable)
    hs = [numbers[id(g)] for g in b.groups]
    first_done = False
    for si, seg in enumerate(segs):
        last = si == len(segs) - 1
        if not seg.elementwise:
            if not first_done:
                for st in b.states:
                    st["step"].add_(1)
                first_done = True
            if dtensor.has_dtensor(b.params):
                updates = dtensor.whole_update(seg.rules[0], updates, b.params, b.states, b.groups)
            else:
                # the group as given: with no kernel to agree with, a tensor lr is multiplied as torch does it,
                # which keeps Adafactor and Muon bit for bit torch's (ravine.optim.hyper)
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
            reductions[0] = seg.rules[0].reduce(b.reduce_grads if si == 0 else updates, hs)
            optimizer._report(seg.rules[0], reductions[0])
        optimizer._last_reductions = reductions
        first = not first_done
        first_done = True
        final = is_final(seg.rules)
        fused_mask = [False] * len(b.params)
        if len(segs) == 1 and optimizer.fused is not False and not diff:
            fused_mask = _run_fused(optimizer, seg, b, reductions)
        out = []
        for i, (p, u, st, group) in enumerate(zip(b.params, updates, b.states, b.groups, strict=True)):
            if fused_mask[i]:
                out.append(None)
                continue
            if i in b.sparse_rows:
                sparse.rows_step(seg.rules, p, u, st, group, hs[i], first=first, final=final)
                out.append(None)
                continue
            values = dict(st)
            u, p_c = precision.upcast(optimizer, u, p)
            if diff:
                p_c = differentiable.equation_input(p_c)
            r = segment_math(seg.rules, u, p_c, values, group, hs[i], reductions, first=first, last=last)
            if diff and i not in b.views:
                differentiable.store(st, values)
            else:
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
    if b.owners:
        # The shards were written in place; autograd's version counters must see the DTensors change too.
        torch.autograd.graph.increment_version(b.owners)
    return counts


def unfusable(p: Tensor, g: Tensor, state: dict, scalar_keys: Container[str] = ("step",)) -> str | None:
    """Why the kernel cannot take this parameter, or None if it can (see :mod:`ravine.fused.guard`).

    ``scalar_keys`` names the 0-dim state (the step, NAdam's ``mu_product``); every other state tensor is read
    and written as ``numel(p)`` elements, so it must have ``p``'s shape exactly -- a 0-dim ``exp_avg`` of a
    parameter since resized would otherwise be read past its end. Aliasing between parameters is checked for the
    whole batch in :func:`_run_fused`."""
    dt = p.dtype
    if dt not in codegen.DTYPE_NAME:
        return f"a {dt} parameter (the kernel takes float32 and float64)"
    if not guard.dense(p, dt):
        return f"a parameter that is not a plain contiguous CPU tensor ({_describe(p)})"
    if not guard.dense(g, dt, p.shape):
        return f"a gradient that is not a plain contiguous CPU tensor of the parameter's dtype ({_describe(g)})"
    if p.is_inference() and not torch.is_inference_mode_enabled():
        return "an inference tensor (torch forbids updating it in place outside inference mode)"
    for k, v in state.items():
        if not isinstance(v, Tensor):
            return f"state {k!r} that is not a tensor ({type(v).__name__})"
        if k not in scalar_keys:
            if not guard.dense(v, dt, p.shape):
                return f"state {k!r} that is not a plain contiguous CPU tensor like the parameter ({_describe(v)})"
        elif v.dim() != 0 or not guard.dense(v, v.dtype) or v.dtype not in codegen.DTYPE_NAME:
            return f"0-dim state {k!r} that is not a float32/float64 0-dim CPU tensor ({_describe(v)})"
    return None


def fusable(p: Tensor, g: Tensor, state: dict, scalar_keys: Container[str] = ("step",)) -> bool:
    """Whether the kernel can take this parameter (:func:`unfusable` gives the reason when it cannot)."""
    return unfusable(p, g, state, scalar_keys) is None


def _describe(t: Tensor) -> str:
    kind = type(t).__name__
    return (
        f"{kind}, {t.dtype}, shape {tuple(t.shape)}, device {t.device}, layout {t.layout}"
        + (f", strides {t.stride()}" if t.layout is torch.strided and not t.is_nested else "")
        + (", negative bit" if t.is_neg() else "")
    )


def _host_readable(reductions: dict[int, dict]) -> bool:
    """Whether every reduction has a value the C kernel can read as a number (not a meta or fake tensor)."""
    return not any(
        isinstance(v, Tensor) and (v.is_meta or is_fake(v)) for values in reductions.values() for v in values.values()
    )


def _run_fused(optimizer: Any, seg: Segment, b: Batch, reductions: dict[int, dict]) -> list[bool]:
    mask = [False] * len(b.params)
    if torch.compiler.is_compiling() or guard.transforms_active():
        return mask
    wait = optimizer.fused is True
    mask = gpu_step.run(optimizer, seg, b, reductions)  # the Triton kernel takes what it can first
    if not _host_readable(reductions):
        # the C kernel reads a reduction (a global norm) as a number; one over a meta or fake gradient has none,
        # and the reference path then fails (or not) exactly as torch would
        return mask
    scalar_keys = optimizer._scalar_keys()
    candidates: list[int] = []
    for i, (p, g, st) in enumerate(zip(b.params, b.grads, b.states, strict=True)):
        if mask[i] or p.numel() == 0:
            continue  # taken by Triton; or empty: nothing for the kernel to do that the reference path does not
        why = unfusable(p, g, st, scalar_keys)
        if why is not None:
            if wait:
                raise ValueError(
                    f"fused=True cannot take {why} (the C kernel takes plain contiguous float32/float64 CPU "
                    f"tensors, Triton CUDA tensors when installed); use fused=None to fall back per tensor"
                )
            continue
        candidates.append(i)
    touched = [(b.params[i], b.grads[i], *b.states[i].values()) for i in candidates]
    chosen = set(candidates)
    rest = [
        (b.params[i], b.grads[i], *(v for v in b.states[i].values() if isinstance(v, Tensor)))
        for i in range(len(b.params))
        if i not in chosen and not mask[i]
    ]
    apart = guard.clean(touched, rest)
    if wait and not all(apart):
        raise ValueError(
            "fused=True cannot take parameters whose memory overlaps (a gradient, parameter or state tensor "
            "shares memory with another); use fused=None to fall back per tensor"
        )
    batches: dict[tuple, list[int]] = {}
    group_keys: dict[int, tuple] = {}
    for i, ok in zip(candidates, apart, strict=True):
        if not ok:
            continue
        p, st, group = b.params[i], b.states[i], b.groups[i]
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
