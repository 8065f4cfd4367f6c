"""Prepare and launch the Triton kernel for a batch of tensors: the pointer table, the tiles, the group rows.

A :class:`DeviceBatch` holds, on the tensors' device, everything a launch reads besides the tensors themselves:
the table of addresses (``p``, ``g``, the state), per tensor its size, tile count and group row, the list of tiles
(one per program), the hyperparameters and the arrival counters. It is built once for the steady state
(:mod:`ravine.fused.triton.plan`) and refreshed in place: the gradients' addresses when they move, a group's
numbers when a schedule or the user changes them. Neither needs the host to wait for the device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ravine.fused.triton import kernels
from ravine.fused.triton.codegen import TritonSpec

# Elements per program. 1024 float32 elements per 4 warps is 8 per thread: two 128-bit accesses per array.
BLOCK = 1024
NUM_WARPS = 4


@dataclass
class DeviceBatch:
    """A prepared launch; see the module docstring."""

    spec: TritonSpec
    device: torch.device
    params: list[Tensor]
    groups: list[dict]  # distinct groups, in the order of the hyper rows
    table_host: np.ndarray  # int64 [n, W], the addresses as the device has them
    table: Tensor
    info: Tensor
    tiles: Tensor
    hyper: Tensor
    cnt: Tensor
    n_tiles: int
    aligned: bool
    block: int
    hyper_host: np.ndarray | None = None  # the float leaves last sent to the device
    keep: list[Any] = field(default_factory=list)  # host buffers a pending copy may still read
    spare: tuple[Tensor, Tensor] | None = None  # pinned buffers kept for the next CUDA graph capture

    @property
    def interpret(self) -> bool:
        return self.device.type == "cpu"


def _upload(host: np.ndarray, device: torch.device) -> Tensor:
    t = torch.from_numpy(host)
    if device.type == "cpu":
        return t
    return t.pin_memory().to(device, non_blocking=True)


def _refresh(dev: Tensor, host: np.ndarray) -> None:
    """Write ``host`` into ``dev`` without waiting: pinned memory from torch's caching host allocator, which keeps
    each block until the copy that reads it has run."""
    if dev.device.type == "cpu":
        dev.copy_(torch.from_numpy(host))
    else:
        dev.copy_(torch.from_numpy(host).pin_memory(), non_blocking=True)


def addresses(spec: TritonSpec, params: Sequence[Tensor], grads: Sequence[Tensor], states: Sequence[dict]):
    """int64 [n, W]: the address of every slot of every tensor."""
    out = np.empty((len(params), len(spec.slots)), dtype=np.int64)
    for j, (p, g, st) in enumerate(zip(params, grads, states, strict=True)):
        out[j] = [p.data_ptr() if k == "p" else g.data_ptr() if k == "g" else st[k].data_ptr() for k in spec.slots]
    return out


def prepare(
    spec: TritonSpec,
    params: Sequence[Tensor],
    grads: Sequence[Tensor],
    states: Sequence[dict],
    groups: Sequence[dict],
    block: int | None = None,
) -> DeviceBatch:
    """Everything a launch over ``params`` reads, on their device (one copy, no wait); ``block`` elements per
    program (default :data:`BLOCK`)."""
    block = block or BLOCK
    device = params[0].device
    distinct: list[dict] = []
    index: dict[int, int] = {}
    group_of = []
    for g in groups:
        if id(g) not in index:
            index[id(g)] = len(distinct)
            distinct.append(g)
        group_of.append(index[id(g)])
    table_host = addresses(spec, params, grads, states)
    numel = np.array([p.numel() for p in params], dtype=np.int64)
    ntiles = np.maximum(1, -(-numel // block))  # an empty tensor still gets one program: its step advances
    info = np.zeros((len(params), 4), dtype=np.int64)
    info[:, 0], info[:, 1], info[:, 2] = numel, ntiles, group_of
    tiles = np.empty((int(ntiles.sum()), 2), dtype=np.int32)
    tiles[:, 0] = np.repeat(np.arange(len(params), dtype=np.int32), ntiles)
    tiles[:, 1] = np.concatenate([np.arange(k, dtype=np.int32) for k in ntiles])
    elem = list(range(spec.slots.index("step")))  # the per-element slots come first
    aligned = bool(np.all(table_host[:, elem] % 16 == 0))
    n_hyper = max(len(spec.leaves), 1)
    batch = DeviceBatch(
        spec=spec,
        device=device,
        params=list(params),
        groups=distinct,
        table_host=table_host,
        table=_upload(table_host, device),
        info=_upload(info, device),
        tiles=_upload(tiles, device),
        hyper=torch.zeros((len(distinct), n_hyper), dtype=torch.float64, device=device),
        cnt=torch.zeros(len(params), dtype=torch.int32, device=device),
        n_tiles=len(tiles),
        aligned=aligned,
        block=block,
    )
    batch.keep = [table_host, info, tiles]
    ensure_spare(batch)
    return batch


def ensure_spare(batch: DeviceBatch) -> None:
    """Pinned host buffers for a capture, allocated outside it (allocation is no business of a graph)."""
    if batch.spare is None and batch.device.type == "cuda":
        batch.spare = (
            torch.empty(batch.table.shape, dtype=torch.int64, pin_memory=True),
            torch.empty(batch.hyper.shape, dtype=torch.float64, pin_memory=True),
        )


def for_capture(batch: DeviceBatch, grads: Sequence[Tensor]) -> DeviceBatch:
    """The batch as one CUDA graph will replay it: its own table and hyperparameter rows, filled by copies that
    the graph records from pinned buffers written once and never again (so a later eager step or capture cannot
    change what this graph replays). Float hyperparameters are fixed at capture, as in torch's capturable mode;
    one held in a device tensor is read at each replay."""
    if batch.spare is None:
        raise RuntimeError("a second CUDA graph capture of this step needs one eager step in between")
    table_pin, hyper_pin = batch.spare
    batch.spare = None
    host = batch.table_host.copy()
    host[:, 1] = [g.data_ptr() for g in grads]
    values, on_device = _hyper_values(batch)
    table_pin.copy_(torch.from_numpy(host))
    hyper_pin.copy_(torch.from_numpy(values))
    table = torch.empty_like(batch.table)
    table.copy_(table_pin, non_blocking=True)
    hyper = torch.empty_like(batch.hyper)
    hyper.copy_(hyper_pin, non_blocking=True)
    for r, j, v in on_device:
        hyper[r, j].copy_(v.reshape(()), non_blocking=True)
    aligned = batch.aligned and not np.any(host[:, 1] % 16)
    out = dataclasses.replace(batch, table=table, hyper=hyper, table_host=host, hyper_host=values, aligned=aligned)
    out.keep = [*batch.keep, table_pin, hyper_pin]
    return out


def set_grads(batch: DeviceBatch, grads: Sequence[Tensor]) -> None:
    """Point the table at this step's gradients (a copy only when one of them moved)."""
    col = np.fromiter(map(Tensor.data_ptr, grads), dtype=np.int64, count=len(grads))
    if np.array_equal(col, batch.table_host[:, 1]):
        return
    if batch.aligned and np.any(col % 16):
        batch.aligned = False
    batch.table_host = batch.table_host.copy()  # a pending copy may still read the old array
    batch.table_host[:, 1] = col
    _refresh(batch.table, batch.table_host)


def set_hyper(batch: DeviceBatch) -> None:
    """The groups' numbers, as float64 rows. Python numbers travel in one host-to-device copy, sent only when they
    changed; a hyperparameter held in a tensor (``lr=torch.tensor(...)``, as for CUDA graphs) is copied on the
    device, so the host never reads it."""
    values, on_device = _hyper_values(batch)
    if batch.hyper_host is None or not np.array_equal(values, batch.hyper_host, equal_nan=True):
        _refresh(batch.hyper, values)
        batch.hyper_host = values
    for r, j, v in on_device:
        batch.hyper[r, j].copy_(v.reshape(()), non_blocking=True)


def _hyper_values(batch: DeviceBatch) -> tuple[np.ndarray, list[tuple[int, int, Tensor]]]:
    """The float leaves as rows, and the leaves held in tensors on the device (row, column, tensor)."""
    values = np.zeros(batch.hyper.shape, dtype=np.float64)
    on_device: list[tuple[int, int, Tensor]] = []
    for r, g in enumerate(batch.groups):
        for j, (key, i) in enumerate(batch.spec.leaves):
            v = g[key] if i is None else g[key][i]
            if isinstance(v, Tensor) and v.device == batch.device:
                on_device.append((r, j, v))
            else:
                values[r, j] = float(v)
    return values, on_device


def launch(batch: DeviceBatch, reductions: Mapping[int, Mapping[str, Any]]) -> None:
    """One launch: every tensor of the batch, every element, one pass."""
    spec = batch.spec
    reds = []
    for i, k in spec.reductions:
        v = reductions[i][k]
        if not isinstance(v, Tensor) or v.device != batch.device:
            v = torch.as_tensor(v, dtype=torch.float64).to(batch.device)
        reds.append(v.reshape(()))
    fn = kernels.kernel(spec.source, batch.interpret)
    fn[(batch.n_tiles,)](
        batch.table, batch.info, batch.tiles, batch.hyper, batch.cnt, *reds,
        BLOCK=batch.block, ALIGNED=batch.aligned, num_warps=NUM_WARPS, enable_fp_fusion=False,
    )  # fmt: skip
