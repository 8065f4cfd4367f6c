"""Gradient norms, update sizes and step agreement against torch's own computations."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ravine.diagnose import measures


def _grads(seed: int = 0) -> tuple[nn.Module, list[torch.Tensor]]:
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(40, 30), nn.Tanh(), nn.Linear(30, 3))
    m(torch.randn(16, 40)).pow(2).mean().backward()
    return m, [p.grad for p in m.parameters()]


def test_global_grad_norm_matches_clip_grad_norm() -> None:
    m, grads = _grads()
    total, norms = measures.grad_norms(grads)
    ref = nn.utils.clip_grad_norm_(m.parameters(), max_norm=float("inf"))
    assert float(total) == pytest.approx(float(ref), rel=1e-6)
    assert [float(n) for n in norms] == pytest.approx([float(g.norm()) for g in grads], rel=1e-6)


def test_sparse_gradients_are_measured_on_their_values() -> None:
    emb = nn.Embedding(100, 8, sparse=True)
    emb(torch.tensor([1, 5, 5])).sum().backward()
    total, _ = measures.grad_norms([emb.weight.grad])
    assert float(total) == pytest.approx(float(emb.weight.grad.to_dense().norm()), rel=1e-6)


def test_small_tensors_are_measured_exactly_and_agreement_is_the_cosine() -> None:
    m, grads = _grads()
    params = list(m.parameters())
    coords = measures.Coordinates(params, cap=10_000)  # every coordinate: exact
    layers = measures.discover_layers(m, params)
    before = coords.take(params)
    with torch.no_grad():
        for p in params:
            p.add_(torch.randn_like(p) * 0.01)
    after = coords.take(params)
    total, wnorm, per_layer, neg = measures.update_ratios(coords, before, after, layers)
    weights = [p for p in params if p.dim() >= 2]
    dw = torch.cat([(b - a) for b, a, p in zip(before, after, params, strict=True) if p.dim() >= 2])
    w = torch.cat([p.detach().reshape(-1) for p in weights])
    assert total == pytest.approx(float(dw.norm() / w.norm()), rel=1e-5)
    assert wnorm == pytest.approx(float(w.norm()), rel=1e-5)
    assert set(per_layer) == {"0", "2"}
    g = torch.cat([x.reshape(-1) for x in grads])
    d = torch.cat([x for x in neg if x is not None])
    ref = torch.nn.functional.cosine_similarity(g, d, dim=0)
    assert measures.step_agreement(coords, grads, neg) == pytest.approx(float(ref), rel=1e-5)


def test_sampled_coordinates_estimate_norms_and_cosines_within_a_few_percent() -> None:
    torch.manual_seed(1)
    big = [torch.randn(300, 400), torch.randn(400)]
    coords = measures.Coordinates(big, cap=1024)
    est = sum(coords.sq_norms(coords.take(big))) ** 0.5
    assert est == pytest.approx(float(torch.cat([t.reshape(-1) for t in big]).norm()), rel=0.06)
    other = [0.6 * t + 0.8 * torch.randn_like(t) for t in big]  # cosine 0.6 with big
    neg = coords.take(other)
    assert measures.step_agreement(coords, big, neg) == pytest.approx(0.6, abs=0.05)


def test_coordinates_leave_the_global_random_state_alone() -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    measures.Coordinates([torch.zeros(50_000)])
    assert torch.equal(torch.rand(3), expected)


def test_layers_follow_registration_and_flag_embeddings() -> None:
    m = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    layers = measures.discover_layers(m, list(m.parameters()))
    assert [(lay.name, lay.sparse) for lay in layers] == [("0", True), ("1", False), ("3", False)]


def test_all_finite() -> None:
    assert measures.all_finite([torch.ones(3), torch.zeros(2)])
    assert not measures.all_finite([torch.ones(3), torch.tensor([1.0, float("nan")])])
    assert measures.all_finite([torch.full((4,), 1e30)])  # huge but finite: the overflow is confirmed away
