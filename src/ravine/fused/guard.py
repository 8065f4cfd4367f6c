"""What the fused kernel can take, checked before every call: the kernel reads and writes raw addresses, so a
tensor whose memory is not what its shape says must never reach it.

The kernel takes a tensor only if it is a plain ``torch.Tensor`` (or ``nn.Parameter``/``Buffer``, which are
plain tensors): no ``__torch_dispatch__`` or ``__torch_function__`` subclass (DTensor's address is 0, a
FakeTensor has no memory), no functorch wrapper, no nested, sparse or mkldnn layout; on the CPU; of the batch's
dtype; contiguous (so its elements are exactly ``numel`` consecutive slots, none shared); without a pending
negation or conjugation bit (the bits say "negate on read", which raw memory cannot); not empty. And the memory
it writes (the parameter and its state) overlaps nothing else the step reads or writes, so the order in which
threads visit elements cannot change a result. Everything else takes the reference path, which runs torch's
own operations and so accepts whatever torch accepts.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

_PLAIN = {torch.Tensor, torch.nn.Parameter}
if hasattr(torch.nn.parameter, "Buffer"):
    _PLAIN.add(torch.nn.parameter.Buffer)
PLAIN_TYPES = frozenset(_PLAIN)


def is_plain(t: object) -> bool:
    """A tensor with ordinary storage and torch's own semantics (no subclass may reinterpret it)."""
    return type(t) in PLAIN_TYPES


def transforms_active() -> bool:
    """Inside ``torch.func`` transforms (``grad``, ``vmap``), tensors are wrappers whose memory is not theirs."""
    return torch._C._functorch.peek_interpreter_stack() is not None


def dense(t: Tensor, dtype: torch.dtype, shape: torch.Size | None = None) -> bool:
    """``t`` is plain, CPU, strided, contiguous, of ``dtype`` (and ``shape``), without neg/conj bits."""
    return (
        type(t) in PLAIN_TYPES
        and t.dtype is dtype
        and t.is_cpu
        and t.layout is torch.strided
        and not t.is_nested
        and t.is_contiguous()
        and not t.is_neg()
        and not t.is_conj()
        and (shape is None or t.shape == shape)
    )


_dtype = operator.attrgetter("dtype")
_is_cpu = operator.attrgetter("is_cpu")
_shape = operator.attrgetter("shape")


def dense_all(ts: list, dtype: torch.dtype, shapes: list, strides: list) -> bool:
    """:func:`dense` for a list of real tensors at C-loop speed (the steady-state plan checks every gradient of
    every step): ``shapes`` and ``strides`` are the expected ones (strides of a contiguous layout; other strides
    are accepted if the tensor is still contiguous)."""
    try:
        if not all(map(PLAIN_TYPES.__contains__, map(type, ts))):
            return False  # also None (a missing gradient)
        if not all(d is dtype for d in map(_dtype, ts)) or not all(map(_is_cpu, ts)):
            return False
        if list(map(_shape, ts)) != shapes or any(map(Tensor.is_neg, ts)):
            return False
        # Sparse, mkldnn and nested tensors have no strides: stride() raises.
        return list(map(Tensor.stride, ts)) == strides or all(map(Tensor.is_contiguous, ts))
    except RuntimeError:
        return False


def span(t: Tensor) -> tuple[int, int]:
    """The bytes a contiguous tensor occupies, ``[start, end)``."""
    start = t.data_ptr()
    return start, start + t.numel() * t.element_size()


def extent(t: Tensor) -> list[tuple[int, int]] | None:
    """The bytes any tensor may read or write, as intervals (a bounding interval per tensor with memory); []
    for tensors without memory (meta, FakeTensor, empty); None when it cannot be known (an opaque subclass)."""
    if t.is_meta or _is_fake(t) or t.numel() == 0:
        return []
    flatten = getattr(t, "__tensor_flatten__", None)
    if type(t) not in PLAIN_TYPES and flatten is not None:
        out: list[tuple[int, int]] = []
        for name in flatten()[0]:
            x = getattr(t, name)
            if not isinstance(x, Tensor):
                continue
            inner = extent(x)
            if inner is None:
                return None
            out += inner
        return out
    if t.layout is not torch.strided or t.is_nested:
        return None
    try:
        start = t.data_ptr()
    except RuntimeError:
        return None
    if start == 0:
        return None
    last = sum((n - 1) * s for n, s in zip(t.shape, t.stride(), strict=True))
    return [(start, start + (last + 1) * t.element_size())]


def _is_fake(t: Tensor) -> bool:
    from torch._subclasses.fake_tensor import is_fake

    return type(t) not in PLAIN_TYPES and is_fake(t)


def clean(items: Sequence[Iterable[Tensor]], others: Sequence[Iterable[Tensor]] = ()) -> list[bool]:
    """Per item (the contiguous tensors one parameter's fused step touches), whether none of its memory overlaps
    another tensor's: within the item, across items, or with any tensor of ``others`` (the parameters, gradients
    and state the reference path takes in the same step, which would otherwise read or write memory the kernel
    has already changed, or change memory it has yet to read)."""
    spans: list[tuple[int, int, int]] = []
    for i, ts in enumerate(items):
        spans.extend((*span(t), i) for t in ts)
    spans.sort()
    ok = [True] * len(items)
    end, owner = -1, -1
    for start, stop, i in spans:
        if start < end:  # overlaps the interval reaching furthest so far
            ok[i] = ok[owner] = False
        if stop > end:
            end, owner = stop, i
    # An interval that overlaps another is always caught, though not always paired with it: the proof is in
    # tests/fused/test_guard.py, which checks this against all pairs.
    if others:
        foreign: list[tuple[int, int]] = []
        for ts in others:
            for t in ts:
                e = extent(t)
                if e is None:
                    return [False] * len(items)  # memory we cannot see: nothing may run ahead of it
                foreign += e
        union = Spans(_merge(foreign))
        for i, ts in enumerate(items):
            spans_i = [span(t) for t in ts]
            if ok[i] and spans_i:
                starts = np.array([a for a, _ in spans_i], dtype=np.uint64)
                ok[i] = union.misses(starts, np.array([b for _, b in spans_i], dtype=np.uint64))
    return ok


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


class Spans:
    """The memory a prepared plan writes, sorted, for checking each step's gradients against it at numpy speed."""

    def __init__(self, written: Iterable[tuple[int, int]]) -> None:
        pairs = sorted(written)
        self.starts = np.array([a for a, _ in pairs], dtype=np.uint64)
        self.ends = np.array([b for _, b in pairs], dtype=np.uint64)

    def disjoint(self) -> bool:
        """Whether the written intervals overlap each other."""
        return bool(np.all(self.ends[:-1] <= self.starts[1:]))

    def misses(self, starts: np.ndarray, ends: np.ndarray) -> bool:
        """Whether every read interval ``[starts[i], ends[i])`` avoids all written ones (written must be
        disjoint, hence sorted by end as well)."""
        if len(self.starts) == 0:
            return True
        k = np.searchsorted(self.starts, ends, side="left").astype(np.int64) - 1
        hit = (k >= 0) & (self.ends[np.maximum(k, 0)] > starts)
        return not bool(hit.any())
