"""DTensor parameters (FSDP2, tensor parallelism) in ravine's optimisers.

An elementwise update of a DTensor is the same update of each rank's local shard: DTensor itself runs an
elementwise op by running it on ``to_local()``. So when a parameter, its gradient and its state are DTensors with
one layout (same mesh, placements and shape; none ``Partial``), the step runs on the local tensors -- the fused
kernel where they qualify -- and writes land in the DTensors. A reduction over all parameters (global-norm
clipping) still needs every shard: :func:`global_norm` reduces the local norms across the ranks that hold them.

Nothing here imports ``torch.distributed.tensor``: if no one has imported it, no tensor can be a DTensor.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor


def dtensor_type() -> type | None:
    """The DTensor class, if ``torch.distributed.tensor`` has been imported; else None."""
    mod = sys.modules.get("torch.distributed.tensor._api")
    return getattr(mod, "DTensor", None)


def is_dtensor(t: object) -> bool:
    cls = dtensor_type()
    return cls is not None and isinstance(t, cls)


def _same_layout(a: Any, b: Any) -> bool:
    return (
        a.device_mesh == b.device_mesh
        and a.placements == b.placements
        and a.shape == b.shape
        and a._local_tensor.shape == b._local_tensor.shape
    )


def local_view(p: Tensor, g: Tensor, state: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, dict] | None:
    """``(p, g, state)`` with every DTensor replaced by its local tensor (same memory), when an elementwise
    step on the locals is exactly the step on the DTensors; None when it is not (mixed kinds, different layouts,
    a ``Partial`` placement), and the step must run on DTensor operations instead.

    0-dim state (the step count) is a plain tensor, as in torch.optim, and passes through.
    """
    cls = dtensor_type()
    if cls is None or not isinstance(p, cls) or not isinstance(g, cls):
        return None
    if any(pl.is_partial() for pl in p.placements) or not _same_layout(p, g):
        return None
    local: dict[str, Tensor] = {}
    for k, v in state.items():
        if isinstance(v, cls):
            if not _same_layout(p, v):
                return None
            local[k] = v._local_tensor
        elif v.dim() == 0:
            local[k] = v
        else:
            return None  # a plain tensor shaped like the whole parameter: only DTensor ops can say what it means
    return p._local_tensor, g._local_tensor, local


def local_grad(p: Any, g: Any) -> Tensor | None:
    """The local tensor of ``g`` if it has ``p``'s layout (the steady-state plan's per-step check)."""
    cls = dtensor_type()
    if cls is None or not isinstance(g, cls) or not _same_layout(p, g):
        return None
    return g._local_tensor


def local_state(p: Any, v: Tensor) -> Tensor:
    """What :func:`local_view` makes of a state tensor ``v`` of DTensor parameter ``p`` (the plan's check)."""
    cls = dtensor_type()
    return v._local_tensor if cls is not None and isinstance(v, cls) else v


def has_dtensor(tensors: Sequence[object]) -> bool:
    cls = dtensor_type()
    return cls is not None and any(isinstance(t, cls) for t in tensors)


def global_norm(updates: Sequence[Tensor], q: float) -> Tensor:
    """``|| (u_1, ..., u_n) ||_q`` over every element of every tensor, DTensors included: a float64 0-dim plain
    tensor, equal on all ranks.

    Each tensor's norm is taken on its local shard (in the tensor's dtype, as ``torch._foreach_norm`` and
    torch's ``clip_grad_norm_``); the q-th powers (or, for q = inf, the maxima) of the shards are summed in
    float64 and all-reduced once per mesh and set of sharded mesh dimensions. Replicated dimensions are not
    reduced (each rank already holds every element). A ``Partial`` tensor is first reduced by DTensor itself.
    """
    import torch.distributed as dist
    from torch.distributed.tensor import Replicate

    cls = dtensor_type()
    inf = math.isinf(q)
    plain: list[Tensor] = []
    sharded: dict[tuple, list[Tensor]] = {}
    meshes: dict[tuple, Any] = {}
    for u in updates:
        if cls is not None and isinstance(u, cls):
            if any(pl.is_partial() for pl in u.placements):
                u = u.redistribute(u.device_mesh, [Replicate() if pl.is_partial() else pl for pl in u.placements])
            dims = tuple(i for i, pl in enumerate(u.placements) if pl.is_shard())
            if not dims:
                plain.append(u._local_tensor)
                continue
            key = (id(u.device_mesh), dims)
            meshes[key] = u.device_mesh
            sharded.setdefault(key, []).append(u._local_tensor)
        else:
            plain.append(u)

    def power_sum(ts: list[Tensor]) -> Tensor:
        norms = torch.stack([n.cpu() for n in torch._foreach_norm([t.detach() for t in ts], q)]).double()
        return norms.max() if inf else (norms**q).sum()

    parts = [power_sum(plain)] if plain else []
    op = dist.ReduceOp.MAX if inf else dist.ReduceOp.SUM
    for key, ts in sharded.items():
        part = power_sum(ts)
        mesh = meshes[key]
        for d in key[1]:
            dist.all_reduce(part, op=op, group=mesh.get_group(d))
        parts.append(part)
    if not parts:
        return torch.zeros((), dtype=torch.float64)
    total = torch.stack(parts)
    return total.max() if inf else total.sum() ** (1.0 / q)


def whole_update(rule: Any, updates: Sequence[Any], params: Sequence[Any], states: Sequence[dict], groups: Any) -> list:
    """``rule.update`` of a rule that is not elementwise (a per-tensor norm, a factored moment, an orthogonalised
    matrix, a preconditioner), with DTensors: each is gathered whole, the rule runs on plain tensors exactly as in
    one process, and every rank keeps its own shard of the result and of the state the rule wrote.

    A sharded Newton-Schulz or Shampoo would be faster; this is the step that is right for every such rule, bit
    for bit one process's, at the cost of one all-gather per tensor and step (every rank calls it for the same
    tensors in the same order, as a collective must be called).
    """
    cls = dtensor_type()

    def whole(t: Any) -> Any:
        return t.full_tensor() if cls is not None and isinstance(t, cls) else t

    full_states = [{k: whole(v) for k, v in st.items()} for st in states]
    out = rule.update([whole(u) for u in updates], [whole(p) for p in params], full_states, groups)
    for st, full in zip(states, full_states, strict=True):
        for k, v in full.items():
            old = st.get(k)
            if cls is not None and isinstance(old, cls):
                old._local_tensor.copy_(_shard_of(v, old))
            elif old is not v:
                st[k] = v  # state the rule created or replaced: a plain tensor, the same on every rank
    return [_like(o, u) if cls is not None and isinstance(u, cls) else o for o, u in zip(out, updates, strict=True)]


def _shard_of(full: Tensor, like: Any) -> Tensor:
    """This rank's part of ``full``, laid out as DTensor ``like`` is (Shard: its slice; Replicate: all of it)."""
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    shape, offset = compute_local_shape_and_global_offset(full.shape, like.device_mesh, like.placements)
    return full[tuple(slice(o, o + s) for o, s in zip(offset, shape, strict=True))]


def _like(full: Tensor, like: Any) -> Any:
    """``full`` as a DTensor with ``like``'s mesh and placements (a Partial placement becomes Replicate: the
    value is already the reduced one)."""
    from torch.distributed.tensor import Replicate

    placements = tuple(Replicate() if pl.is_partial() else pl for pl in like.placements)
    local = _shard_of(full, like).clone()  # a Partial dimension is not split: the whole value on every rank
    return type(like).from_local(
        local, like.device_mesh, placements, run_check=False, shape=like.shape, stride=like.stride()
    )
