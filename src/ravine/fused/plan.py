"""The steady-state fused step: everything that does not change between steps is prepared once.

A :class:`Plan` is built after a step in which every parameter had a gradient and could take the kernel. It holds
the batches (one per group structure and dtype), their kernels, element counts and group rows, so that a step
costs: read the gradients, check them, fill one pointer table, one C call per batch. Anything unusual (a missing
gradient, a non-contiguous one, a changed group, a kernel still building) makes :meth:`Plan.step` return False
without touching anything, and the general path in :mod:`ravine.optim.execute` takes that step instead.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.fused import build, codegen


@dataclass
class _Batch:
    dtype: torch.dtype
    params: list[Tensor]
    states: list[dict]
    groups: list[dict]  # distinct groups of this batch, in the order of their hyper rows
    group_of: np.ndarray
    numel: np.ndarray
    spec: codegen.KernelSpec
    kernel: build.Kernel
    ptrs: np.ndarray
    scratch: np.ndarray
    held: list[list[Tensor]]  # per state slot, the tensors whose addresses are in ptrs
    param_ptrs: list[int]


class Plan:
    """Prepared batches for the fused kernel; see the module docstring."""

    def __init__(self, signature: tuple, batches: list[_Batch], reducer: Any, optimizer: Any) -> None:
        self.signature = signature
        self.batches = batches
        self.reducer = reducer  # the leading reducing rule, or None
        self.params = [p for b in batches for p in b.params]
        # Reductions see the gradients in the optimiser's order, as on the reference path, so sums round alike.
        self.order = [p for g in optimizer.param_groups for p in g["params"]]
        self.order_groups = [g for g in optimizer.param_groups for _ in g["params"]]

    @classmethod
    def build(cls, optimizer: Any, signature: tuple, seg: Any, reductions: Mapping[int, Mapping[str, Any]]) -> Plan:
        grouped: dict[tuple, list[tuple[Tensor, dict, dict]]] = {}
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.dtype not in codegen.DTYPE_NAME or p.device.type != "cpu":
                    raise LookupError(f"no steady-state C plan for {p.dtype} parameters on {p.device}")
                st = optimizer.state[p]
                key = optimizer._structure_key(group, p.dtype, st)
                grouped.setdefault(key, []).append((p, st, group))
        batches = []
        for key, items in grouped.items():
            p0, st0, g0 = items[0]
            spec = optimizer._spec(key, seg, g0, p0.dtype, st0, reductions)
            kernel = build.request(spec.source, optimizer._label(p0.dtype), wait=False)
            if kernel is None:
                raise LookupError("kernel not ready")
            groups, group_of = distinct_groups([g for _, _, g in items])
            slots = spec.slots
            ptrs = np.empty((len(items), len(slots)), dtype=np.uint64)
            held = [[st[k] for _, st, _ in items] for k in slots[2:]]
            param_ptrs = [p.data_ptr() for p, _, _ in items]
            ptrs[:, 0] = param_ptrs
            for k, ts in enumerate(held, start=2):
                ptrs[:, k] = [t.data_ptr() for t in ts]
            batches.append(
                _Batch(
                    dtype=p0.dtype,
                    params=[p for p, _, _ in items],
                    states=[st for _, st, _ in items],
                    groups=groups,
                    group_of=group_of,
                    numel=np.array([p.numel() for p, _, _ in items], dtype=np.int64),
                    spec=spec,
                    kernel=kernel,
                    ptrs=ptrs,
                    scratch=np.empty(max(len(items) * spec.carried, 1), dtype=np.float64),
                    held=held,
                    param_ptrs=param_ptrs,
                )
            )
        return cls(signature, batches, seg.rules[0] if seg.reducing else None, optimizer)

    def step(self, optimizer: Any) -> bool:
        """Run one step if nothing changed since the plan was built; False (and no effect) otherwise."""
        grads: list[list[Tensor]] = []
        for b in self.batches:
            gs = [p.grad for p in b.params]
            dt = b.dtype
            for g in gs:
                if g is None or g.is_sparse or g.dtype is not dt or not g.is_contiguous():
                    return False
            grads.append(gs)
        for b, gs in zip(self.batches, grads, strict=True):
            if not _fill(b, gs):
                return False
        reductions: dict[int, dict] = {}
        if self.reducer is not None:
            reductions[0] = self.reducer.reduce([p.grad for p in self.order], self.order_groups)
            optimizer._report(self.reducer, reductions[0])
        for b in self.batches:
            launch(b.kernel, b.spec, b.numel, b.ptrs, b.group_of, b.groups, reductions, b.scratch)
        torch.autograd.graph.increment_version(self.params)
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


def _fill(b: _Batch, grads: list[Tensor]) -> bool:
    """Write this step's gradient addresses into the pointer table, after checking that the parameters and state
    tensors are the very ones the plan was built with (a loader, ``p.data = ...`` or a user resetting a moment
    may replace them, and the kernel must never write through a stale address)."""
    if list(map(Tensor.data_ptr, b.params)) != b.param_ptrs:
        return False
    try:
        for k, held in zip(b.spec.slots[2:], b.held, strict=True):
            if not all(map(operator.is_, map(operator.itemgetter(k), b.states), held)):
                return False
    except KeyError:
        return False
    b.ptrs[:, 1] = list(map(Tensor.data_ptr, grads))
    return True
