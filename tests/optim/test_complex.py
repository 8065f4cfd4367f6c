"""Complex parameters are two real coordinates each, as in torch.optim (view_as_real)."""

from __future__ import annotations

import pytest
import torch

import ravine


@pytest.mark.parametrize("fused", [False, None])
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
        ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
        ("NAdam", {"lr": 0.01}),
        ("Adamax", {"lr": 0.01, "weight_decay": 0.01}),
        ("RAdam", {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True}),
        ("ASGD", {"lr": 0.01, "t0": 10, "weight_decay": 0.01}),
        ("Rprop", {"lr": 0.01}),  # each of the real and imaginary parts starts with its own step size lr
    ],
)
def test_complex_matches_torch(name: str, kwargs: dict, fused: bool | None) -> None:
    torch.manual_seed(0)
    z0 = torch.randn(6, 4, dtype=torch.complex128)
    target = torch.randn(6, 4, dtype=torch.complex128) * 3
    runs = []
    for opt_cls in (getattr(ravine.optim, name), getattr(torch.optim, name)):
        z = z0.clone().requires_grad_()
        extra = {"fused": fused} if opt_cls.__module__.startswith("ravine") else {}
        opt = opt_cls([z], **kwargs, **extra)
        for _ in range(50):
            opt.zero_grad()
            ((z - target).abs() ** 2).sum().backward()
            opt.step()
        runs.append(z.detach())
    assert torch.allclose(runs[0], runs[1], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(runs[0], z0)
