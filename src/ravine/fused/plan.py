"""The steady-state fused step: everything that does not change between steps is prepared once.

A :class:`Plan` is built after a step in which every parameter had a gradient and could take the kernel. It holds
the batches (one per group structure and dtype), their kernels, element counts and group rows, so that a step
costs: read the gradients, check them, fill one pointer table, one C call per batch. Anything unusual (a missing
gradient, one the kernel cannot take (:mod:`ravine.fused.guard`), one overlapping memory the step writes, a
parameter or state tensor replaced or resized, a changed group, a kernel still building) makes :meth:`Plan.step`
return False without touching anything, and the general path in :mod:`ravine.optim.execute` takes that step
instead. DTensor parameters are planned through their local shards, as the general path steps them.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.distributed import dtensor
from ravine.fused import build, codegen, guard


@dataclass
class _Batch:
    dtype: torch.dtype
    owners: list[Tensor]  # the optimiser's parameters, whose .grad is read
    params: list[Tensor]  # the tensors the kernel writes: the parameters, or their local shards (DTensor)
    states: list[dict]  # the optimiser's state dicts
    groups: list[dict]  # distinct groups of this batch, in the order of their hyper rows
    group_of: np.ndarray
    numel: np.ndarray
    shapes: list[torch.Size]
    strides: list[tuple[int, ...]]
    spec: codegen.KernelSpec
    kernel: build.Kernel
    ptrs: np.ndarray
    scratch: np.ndarray
    held: list[list[Tensor]]  # per state slot, the tensors whose addresses are in ptrs
    held_ptrs: list[list[int]]
    param_ptrs: list[int]
    sharded: bool  # owners are DTensors: gradients are read through their local shards
    nbytes: np.ndarray  # per tensor, uint64
    grad_ptrs: list[int] | None = None  # the gradient addresses in ptrs, checked against what the kernels write


class Plan:
    """Prepared batches for the fused kernel; see the module docstring."""

    def __init__(self, signature: tuple, batches: list[_Batch], reducer: Any, optimizer: Any) -> None:
        self.signature = signature
        self.batches = batches
        self.reducer = reducer  # the leading reducing rule, or None
        self.params = [p for b in batches for p in b.params]
        self.sharded = [p for b in batches for p, w in zip(b.owners, b.params, strict=True) if p is not w]
        # Reductions see the gradients in the optimiser's order, as on the reference path, so sums round alike.
        self.order = [p for g in optimizer.param_groups for p in g["params"]]
        self.order_groups = [g for g in optimizer.param_groups for _ in g["params"]]
        # Everything the kernels write, to check each step's gradients against.
        self.written = guard.Spans(guard.span(t) for b in batches for ts in (b.params, *b.held) for t in ts)
        if not self.written.disjoint():
            raise LookupError("parameters or state tensors share memory")

    @classmethod
    def build(cls, optimizer: Any, signature: tuple, seg: Any, reductions: Mapping[int, Mapping[str, Any]]) -> Plan:
        grouped: dict[tuple, list[tuple[Tensor, Tensor, dict, dict, dict]]] = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.dtype not in codegen.DTYPE_NAME or p.device.type != "cpu":
                    raise LookupError(f"no steady-state C plan for {p.dtype} parameters on {p.device}")
                st = optimizer.state[p]
                w, wst = p, st
                if dtensor.is_dtensor(p):
                    view = dtensor.local_view(p, p.grad, st) if p.grad is not None else None
                    if view is None:
                        raise LookupError("a DTensor parameter whose gradient or state has another layout")
                    w, _, wst = view
                if w.numel() == 0 or not guard.dense(w, p.dtype):
                    raise LookupError("a parameter the kernel does not take")
                key = optimizer._structure_key(group, p.dtype, st)
                grouped.setdefault(key, []).append((p, w, st, wst, group))
        batches = []
        for key, items in grouped.items():
            p0, _, st0, _, g0 = items[0]
            spec = optimizer._spec(key, seg, g0, p0.dtype, st0, reductions)
            kernel = build.request(spec.source, optimizer._label(p0.dtype), wait=False)
            if kernel is None:
                raise LookupError("kernel not ready")
            groups, group_of = distinct_groups([g for *_, g in items])
            slots = spec.slots
            ptrs = np.empty((len(items), len(slots)), dtype=np.uint64)
            held = [[wst[k] for _, _, _, wst, _ in items] for k in slots[2:]]
            held_ptrs = [[t.data_ptr() for t in ts] for ts in held]
            param_ptrs = [w.data_ptr() for _, w, _, _, _ in items]
            ptrs[:, 0] = param_ptrs
            for k, ps in enumerate(held_ptrs, start=2):
                ptrs[:, k] = ps
            batches.append(
                _Batch(
                    dtype=p0.dtype,
                    owners=[p for p, *_ in items],
                    params=[w for _, w, *_ in items],
                    states=[st for _, _, st, _, _ in items],
                    groups=groups,
                    group_of=group_of,
                    numel=np.array([w.numel() for _, w, *_ in items], dtype=np.int64),
                    shapes=[w.shape for _, w, *_ in items],
                    strides=[w.stride() for _, w, *_ in items],
                    spec=spec,
                    kernel=kernel,
                    ptrs=ptrs,
                    scratch=np.empty(max(len(items) * spec.carried, 1), dtype=np.float64),
                    held=held,
                    held_ptrs=held_ptrs,
                    param_ptrs=param_ptrs,
                    sharded=any(p is not w for p, w, *_ in items),
                    nbytes=np.array([w.numel() * w.element_size() for _, w, *_ in items], dtype=np.uint64),
                )
            )
        return cls(signature, batches, seg.rules[0] if seg.reducing else None, optimizer)

    def step(self, optimizer: Any) -> bool:
        """Run one step if nothing changed since the plan was built; False (and no effect) otherwise."""
        grads: list[list[Tensor]] = []
        state = optimizer.state
        for b in self.batches:
            # The state dicts themselves: load_state_dict (or ZeRO's) installs new ones, maybe holding new tensors
            if not all(map(operator.is_, map(state.__getitem__, b.owners), b.states)):
                return False
            gs = [p.grad for p in b.owners]
            if b.sharded:
                gs = [
                    dtensor.local_grad(p, g) if p is not w else g
                    for p, w, g in zip(b.owners, b.params, gs, strict=True)
                ]
            if not guard.dense_all(gs, b.dtype, b.shapes, b.strides):
                return False
            grads.append(gs)
        for b, gs in zip(self.batches, grads, strict=True):
            if not _fill(b, gs, self.written):
                return False
        reductions: dict[int, dict] = {}
        if self.reducer is not None:
            reductions[0] = self.reducer.reduce([p.grad for p in self.order], self.order_groups)
            optimizer._report(self.reducer, reductions[0])
        for b in self.batches:
            launch(b.kernel, b.spec, b.numel, b.ptrs, b.group_of, b.groups, reductions, b.scratch)
        torch.autograd.graph.increment_version(self.params)
        if self.sharded:
            torch.autograd.graph.increment_version(self.sharded)  # the DTensors whose shards were written
        return True


def distinct_groups(groups: list[dict]) -> tuple[list[dict], np.ndarray]:
    """The distinct parameter groups (by identity: groups are dicts) and, per tensor, the index of its group."""
    distinct: list[dict] = []
    index: dict[int, int] = {}
    group_of = np.empty(len(groups), dtype=np.int32)
    for j, g in enumerate(groups):
        if id(g) not in index:
            index[id(g)] = len(distinct)
            distinct.append(g)
        group_of[j] = index[id(g)]
    return distinct, group_of


def launch(
    kernel: build.Kernel,
    spec: codegen.KernelSpec,
    numel: np.ndarray,
    ptrs: np.ndarray,
    group_of: np.ndarray,
    groups: list[dict],
    reductions: Mapping[int, Mapping[str, Any]],
    scratch: np.ndarray,
) -> None:
    """Call ``kernel`` on a prepared batch: one row of hyperparameters per group, the reductions, torch's threads."""
    hyper = np.array([codegen.leaf_values(g, spec.leaves) for g in groups], dtype=np.float64).reshape(len(groups), -1)
    red = np.array([float(reductions[i][k]) for i, k in spec.reductions] or [0.0], dtype=np.float64)
    rc = kernel.fn(
        len(numel), numel.ctypes.data, ptrs.ctypes.data, group_of.ctypes.data,
        hyper.ctypes.data, red.ctypes.data, scratch.ctypes.data, torch.get_num_threads(),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"the fused kernel returned {rc}")


_shape = operator.attrgetter("shape")


def _fill(b: _Batch, grads: list[Tensor], written: guard.Spans) -> bool:
    """Write this step's gradient addresses into the pointer table, after checking that the parameters and state
    tensors are the very ones the plan was built with, at the same addresses and sizes (a loader,
    ``p.data = ...``, ``resize_`` or a user resetting a moment may replace them, and the kernel must never write
    through a stale address), and that no gradient overlaps memory the kernels write."""
    if list(map(Tensor.data_ptr, b.params)) != b.param_ptrs or list(map(_shape, b.params)) != b.shapes:
        return False
    if b.sharded and not all(w is p._local_tensor for p, w in zip(b.owners, b.params, strict=True) if p is not w):
        return False
    try:
        for k, held, ptrs in zip(b.spec.slots[2:], b.held, b.held_ptrs, strict=True):
            if b.sharded:
                now = [dtensor.local_state(p, st[k]) for p, st in zip(b.owners, b.states, strict=True)]
            else:
                now = list(map(operator.itemgetter(k), b.states))
            if not all(map(operator.is_, now, held)) or list(map(Tensor.data_ptr, held)) != ptrs:
                return False
    except KeyError:
        return False
    starts = list(map(Tensor.data_ptr, grads))
    if starts != b.grad_ptrs:
        # New gradient addresses (sizes are the planned ones): check them once. The allocator usually hands
        # out the same addresses step after step, so this rarely runs in a steady state.
        at = np.array(starts, dtype=np.uint64)
        if not written.misses(at, at + b.nbytes):
            return False
        b.ptrs[:, 1] = at
        b.grad_ptrs = starts
    return True
