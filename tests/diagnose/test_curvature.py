"""The curvature probe against exact eigenvalues, and the stability limits against torch.optim's own dynamics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ravine.diagnose import curvature


class Quadratic(nn.Module):
    """f(x) = x^T A x / 2 with a chosen spectrum (a rotated diagonal)."""

    def __init__(self, eigenvalues: list[float], seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=torch.float64))
        self.register_buffer("a", q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T)
        self.x = nn.Parameter(torch.randn(len(eigenvalues), generator=g, dtype=torch.float64))

    def forward(self) -> torch.Tensor:
        return 0.5 * self.x @ self.a @ self.x


@pytest.mark.parametrize("eigenvalues", [[5.0, 2.0, 1.0, -0.5, -3.0], [4.0, 3.0, 0.1], [-1.0, -2.0, -6.0]])
def test_extreme_eigenvalues_of_a_quadratic(eigenvalues: list[float]) -> None:
    q = Quadratic(eigenvalues)
    c = curvature.probe(q, q, [q.x], iters=200, tol=1e-10)
    assert c.hessian_max == pytest.approx(max(eigenvalues), rel=1e-4)
    assert c.hessian_min == pytest.approx(min(eigenvalues), rel=1e-4)


def _diverges(opt_factory, lam: float) -> bool:
    """Run torch.optim on f(x) = lam x^2 / 2 from x = 1 for 400 steps: does |x| blow up?"""
    x = nn.Parameter(torch.ones(1, dtype=torch.float64))
    opt = opt_factory([x])
    for _ in range(400):
        opt.zero_grad()
        (0.5 * lam * x.square()).sum().backward()
        opt.step()
    return bool(x.abs() > 1.0)


@pytest.mark.parametrize(
    ("settings", "lr_lambda_limit"),
    [
        ({}, 2.0),
        ({"momentum": 0.9}, 3.8),
        ({"momentum": 0.5, "dampening": 0.5}, 6.0),
        ({"momentum": 0.9, "nesterov": True}, 3.8 / 2.8),
    ],
)
def test_sgd_stability_limits_match_torch_sgd_dynamics(settings: dict, lr_lambda_limit: float) -> None:
    """torch.optim.SGD itself is the reference: on lam x^2 / 2 it converges just below lr * lam = limit and
    diverges just above."""
    x = nn.Parameter(torch.ones(3))
    scales, limit, _ = curvature.stability_scales(torch.optim.SGD([x], lr=0.1, **settings), [x])
    lam_limit = limit / float(scales[0][0])  # the preconditioned sharpness D lam reaches the limit
    assert 0.1 * lam_limit == pytest.approx(lr_lambda_limit)

    def make(params: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=0.1, **settings)

    assert not _diverges(make, 0.97 * lam_limit)
    assert _diverges(make, 1.03 * lam_limit)


def test_adam_limit_and_preconditioner_follow_cohen_et_al() -> None:
    x = nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.Adam([x], lr=0.01)
    x.grad = torch.tensor([0.5, -1.0])
    opt.step()
    scales, limit, label = curvature.stability_scales(opt, [x])
    assert limit == pytest.approx(38.0) and "beta1" in label  # (2 + 2 beta1) / (1 - beta1)
    v_hat = torch.tensor([0.25, 1.0])  # after one step, v_hat = g^2
    want = 0.01 / ((1 - 0.9) * (v_hat.sqrt() + 1e-8))
    torch.testing.assert_close(scales[0], want)


def test_unknown_optimisers_get_no_edge_ratio() -> None:
    class Odd(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1, "zeta": 1})

    x = nn.Parameter(torch.ones(2))
    assert curvature.stability_scales(Odd([x]), [x]) is None


def test_edge_ratio_of_gradient_descent_is_lr_lambda_over_two() -> None:
    q = Quadratic([8.0, 1.0, -1.0])
    opt = torch.optim.SGD(q.parameters(), lr=0.3)
    c = curvature.probe(q, q, [q.x], opt, iters=200, tol=1e-10)
    assert c.edge_ratio == pytest.approx(0.3 * 8.0 / 2, rel=1e-4)


def test_the_probe_leaves_training_untouched() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 1))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    model(x).sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    stats = [b.clone() for b in model.buffers()]
    rng = torch.get_rng_state()
    curvature.probe(lambda: (model(x) - y).pow(2).mean(), model, list(model.parameters()))
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(model.buffers(), stats, strict=True))
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads, strict=True))
