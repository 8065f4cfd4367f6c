"""Rows of sparse data and the sparse models, against the same operations on dense tensors (torch as the
reference): batches, subsets and slices of CSR data; gradients of the sparse linear layer; input dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ravine.lab.tasks import batches
from ravine.lab.tasks.models import InputDropout, SparseLinear


def _csr(rows: int = 9, cols: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    dense = torch.rand(rows, cols, generator=g) * (torch.rand(rows, cols, generator=g) < 0.4)
    dense[3] = 0.0  # an empty row
    return batches.csr(*_parts(dense), (rows, cols)), dense


def _parts(dense: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    s = dense.to_sparse_coo()  # rows in order, columns sorted: the CSR parts follow directly
    rows, cols = s.indices()
    crow = torch.cat([torch.zeros(1, dtype=torch.int64), torch.bincount(rows, minlength=dense.shape[0]).cumsum(0)])
    return crow, cols, s.values()


@pytest.mark.parametrize("idx", [[0, 3, 8], [8, 1, 1, 4], [3], list(range(9))])
def test_take_and_select_equal_dense_indexing(idx: list[int]) -> None:
    x, dense = _csr()
    i = torch.tensor(idx)
    coo = batches.take(x, i)
    assert coo.layout == torch.sparse_coo and coo.is_coalesced()
    assert torch.equal(coo.to_dense(), dense[i])
    sel = batches.select(x, i)
    assert sel.layout == torch.sparse_csr and torch.equal(sel.to_dense(), dense[i])
    assert torch.equal(batches.take(dense, i), dense[i])


@pytest.mark.parametrize(("start", "stop"), [(0, 9), (2, 5), (3, 4), (8, 9)])
def test_rows_slice_without_gathering(start: int, stop: int) -> None:
    x, dense = _csr()
    assert torch.equal(batches.rows(x, start, stop).to_dense(), dense[start:stop])


def test_fixed_sample_is_sorted_without_repeats_and_the_same_every_time() -> None:
    a = batches.fixed_sample(1000, 100, seed=3)
    assert torch.equal(a, batches.fixed_sample(1000, 100, seed=3))
    assert not torch.equal(a, batches.fixed_sample(1000, 100, seed=4))
    assert a.unique().numel() == 100 and bool((a[1:] > a[:-1]).all()) and int(a.max()) < 1000
    with pytest.raises(ValueError, match=r"k must be in \[0, 5\]"):
        batches.fixed_sample(5, 6)


def test_carve_partitions_the_indices() -> None:
    kept, held = batches.carve(50, 10)
    assert len(held) == 10 and len(kept) == 40
    assert sorted(torch.cat([kept, held]).tolist()) == list(range(50))


def test_sparse_linear_matches_a_dense_linear_layer_with_dense_gradients() -> None:
    x, dense = _csr(rows=6, cols=7)
    torch.manual_seed(0)
    layer = SparseLinear(7, 3)
    out = layer(batches.take(x, torch.arange(6)))
    out.square().sum().backward()
    w, b = layer.weight.detach().clone().requires_grad_(), layer.bias.detach().clone().requires_grad_()
    ref = F.linear(dense, w, b)
    ref.square().sum().backward()
    torch.testing.assert_close(out, ref)
    assert layer.weight.grad.layout == torch.strided
    torch.testing.assert_close(layer.weight.grad, w.grad)
    torch.testing.assert_close(layer.bias.grad, b.grad)
    with torch.no_grad():  # evaluation takes CSR rows directly
        torch.testing.assert_close(layer(x), F.linear(dense, w, b))


def test_sparse_linear_initialises_like_torch_linear() -> None:
    torch.manual_seed(1)
    ours = SparseLinear(50, 4)
    bound = 1 / 50**0.5  # torch.nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
    w, b = ours.weight.detach(), ours.bias.detach()
    assert float(w.abs().max()) <= bound and float(b.abs().max()) <= bound
    assert float(w.abs().max()) > 0.8 * bound


def test_input_dropout_on_sparse_inputs_keeps_or_scales_each_entry() -> None:
    x, dense = _csr(rows=40, cols=30, seed=2)
    coo = batches.take(x, torch.arange(40))
    drop = InputDropout(0.5)
    torch.manual_seed(0)
    out = drop(coo).to_dense()
    kept = out != 0
    torch.testing.assert_close(out[kept], 2.0 * dense[kept])  # inverted dropout: kept entries scaled by 1/(1-p)
    frac = kept.sum() / (dense != 0).sum()
    assert 0.35 < float(frac) < 0.65
    drop.eval()
    assert drop(coo) is coo


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_input_dropout_rate_is_checked(p: float) -> None:
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        InputDropout(p)
