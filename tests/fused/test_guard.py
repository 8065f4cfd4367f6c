"""ravine.fused.guard: what the kernel may take, checked against brute force and torch's own tensor facts."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ravine.fused import guard

BUF = torch.zeros(64)
ITEM = BUF.element_size()
intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 8)), min_size=0, max_size=4)


def _views(items: list[list[tuple[int, int]]]) -> list[list[torch.Tensor]]:
    return [[BUF[a : min(a + n, 64)] for a, n in item] for item in items]


def _overlap(x: torch.Tensor, y: torch.Tensor) -> bool:
    (a, b), (c, d) = guard.span(x), guard.span(y)
    return a < d and c < b


def _brute_pairs(items: list[list[torch.Tensor]], others: list[list[torch.Tensor]]) -> list[bool]:
    flat = [(i, t) for i, ts in enumerate(items) for t in ts]
    ok = [True] * len(items)
    for a in range(len(flat)):
        for b in range(a + 1, len(flat)):
            if _overlap(flat[a][1], flat[b][1]):
                ok[flat[a][0]] = ok[flat[b][0]] = False
    for i, ts in enumerate(items):
        if any(_overlap(x, y) for x in ts for us in others for y in us):
            ok[i] = False
    return ok


@settings(max_examples=300, deadline=None)
@given(items=st.lists(intervals, min_size=1, max_size=5), others=st.lists(intervals, max_size=2))
def test_clean_is_all_pairs(items, others) -> None:
    """The sweep marks exactly the items that overlap something, as checking every pair does."""
    views, foreign = _views(items), _views(others)
    assert guard.clean(views, foreign) == _brute_pairs(views, foreign)


@settings(max_examples=200, deadline=None)
@given(written=intervals, read=intervals)
def test_spans_misses_is_all_pairs(written, read) -> None:
    merged = guard._merge([guard.span(t) for t in _views([written])[0]])
    spans = guard.Spans(merged)
    assert spans.disjoint()
    for t in _views([read])[0]:
        a, b = guard.span(t)
        expect = not any(a < d and c < b for c, d in merged)
        assert spans.misses(np.array([a], dtype=np.uint64), np.array([b], dtype=np.uint64)) == expect


def test_extent_bounds_every_element() -> None:
    base = torch.zeros(6, 8)
    for t in (base[1:4, ::3], base.t()[2:5], base[:, 3], base[2, 1:5], base.expand(2, 6, 8)[:, 1]):
        ((start, stop),) = guard.extent(t)
        addrs = {base.data_ptr() + (t.storage_offset() + sum(i * s for i, s in zip(idx, t.stride(), strict=True)))
                 * ITEM for idx in np.ndindex(*t.shape)}  # fmt: skip
        assert min(addrs) == start and max(addrs) + ITEM == stop
    assert guard.extent(torch.zeros(0, 3)) == []
    assert guard.extent(torch.zeros(3, device="meta")) == []


def test_dense_rejects_what_raw_memory_cannot_say() -> None:
    x = torch.randn(3, 4)
    assert guard.dense(x, torch.float32) and guard.dense(torch.nn.Parameter(x), torch.float32, x.shape)
    z = torch.randn(3, dtype=torch.complex64)
    rejected = [
        x.t(),  # non-contiguous
        x[:, ::2],
        torch.imag(z.conj()),  # negative bit
        x.to_sparse(),
        x.to("meta"),
        x.double(),
        x.reshape(12),  # shape
    ]
    for t in rejected:
        assert not guard.dense(t, torch.float32, x.shape), t

    class Sub(torch.Tensor):
        pass

    assert not guard.dense(x.as_subclass(Sub), torch.float32)
