"""The steady-state Triton step: batches prepared on the device once, refreshed in place, one launch each.

Like :class:`ravine.fused.plan.Plan` for the C kernel: it is built after a step in which every parameter took this
backend, and :meth:`TritonPlan.step` returns False, touching nothing, as soon as anything differs from what the
plan was built on (a missing or moved gradient of another dtype, a replaced parameter or state tensor); the
general path then takes the step. A steady step costs, on the host: reading the gradients' addresses (a copy to
the device only if one moved), the groups' numbers (a copy only if one changed), one launch per batch -- and never
waits for the device, so the step can be captured in a CUDA graph. A captured step gets tables of its own
(:func:`ravine.fused.triton.launch.for_capture`), so eager steps and other graphs never change what it replays.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ravine.fused.triton import kernels
from ravine.fused.triton import step as tstep
from ravine.fused.triton.launch import (
    DeviceBatch,
    ensure_spare,
    for_capture,
    launch,
    prepare,
    set_grads,
    set_hyper,
)


class TritonPlan:
    """Prepared device batches; see the module docstring."""

    def __init__(self, signature: tuple, batches: list[tuple[DeviceBatch, list[dict], list[list[Tensor]]]],
                 reducer: Any, optimizer: Any) -> None:  # fmt: skip
        self.signature = signature
        self.batches = batches  # (batch, states, held state tensors per slot)
        self.reducer = reducer
        self.params = [p for b, _, _ in batches for p in b.params]
        self.param_ptrs = [list(map(Tensor.data_ptr, b.params)) for b, _, _ in batches]
        self.order = [p for g in optimizer.param_groups for p in g["params"]]
        self.order_groups = [g for g in optimizer.param_groups for _ in g["params"]]
        self.captured: list[DeviceBatch] = []

    @classmethod
    def build(cls, optimizer: Any, signature: tuple, seg: Any, reductions: Mapping[int, Mapping[str, Any]]):
        items = [(p, optimizer.state[p], g) for g in optimizer.param_groups for p in g["params"]]
        params = [p for p, _, _ in items]
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            raise LookupError("a parameter has no gradient")
        states = [st for _, st, _ in items]
        groups = [g for _, _, g in items]
        found = tstep.batches(optimizer, params, grads, states, groups, [False] * len(params))
        if sum(map(len, found.values())) != len(params):
            raise LookupError("not every parameter can take the Triton kernel")
        out = []
        for key, idx in found.items():
            i0 = idx[0]
            sp = tstep.spec(optimizer, key, seg, groups[i0], params[i0], states[i0], reductions)
            if kernels.is_broken(sp.source):
                raise LookupError("this Triton cannot run the kernel")
            bs = [states[i] for i in idx]
            batch = prepare(sp, [params[i] for i in idx], [grads[i] for i in idx], bs, [groups[i] for i in idx])
            held = [[st[k] for st in bs] for k in sp.slots[2:]]
            out.append((batch, bs, held))
        return cls(signature, out, seg.rules[0] if seg.reducing else None, optimizer)

    def step(self, optimizer: Any) -> bool:
        """Run one step if nothing changed since the plan was built; False (and no effect) otherwise."""
        grads = []
        for (b, states, held), ptrs in zip(self.batches, self.param_ptrs, strict=True):
            gs = [p.grad for p in b.params]
            dt, dev = b.params[0].dtype, b.device
            for g in gs:
                if g is None or type(g) is not Tensor or g.is_sparse or g.dtype is not dt or g.device != dev:
                    return False
                if not g.is_contiguous():
                    return False
            if list(map(Tensor.data_ptr, b.params)) != ptrs:
                return False
            try:
                for k, h in zip(b.spec.slots[2:], held, strict=True):
                    if not all(map(operator.is_, map(operator.itemgetter(k), states), h)):
                        return False
            except KeyError:
                return False
            grads.append(gs)
        capturing = self.batches[0][0].device.type == "cuda" and torch.cuda.is_current_stream_capturing()
        run = []
        for (b, _, _), gs in zip(self.batches, grads, strict=True):
            if capturing:
                gb = for_capture(b, gs)
                self.captured.append(gb)  # its tensors live in the graph's memory pool: keep them referenced
                run.append(gb)
            else:
                ensure_spare(b)
                set_grads(b, gs)
                set_hyper(b)
                run.append(b)
        reductions: dict[int, dict] = {}
        if self.reducer is not None:
            reductions[0] = self.reducer.reduce([p.grad for p in self.order], self.order_groups)
            optimizer._report(self.reducer, reductions[0])
        for i, b in enumerate(run):
            try:
                launch(b, reductions)
            except Exception as e:
                if i > 0:  # earlier batches already ran: nothing sensible is left to fall back to
                    raise
                kernels.mark_broken(b.spec.source, e)
                return False
        torch.autograd.graph.increment_version(self.params)
        return True
