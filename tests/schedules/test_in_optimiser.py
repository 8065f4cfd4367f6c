"""``lr=schedule`` in a ravine optimiser: the values it uses and shows, and that it adds nothing else."""

from __future__ import annotations

import pytest
import torch

import ravine
from ravine.schedules import cosine, one_cycle, step_decay, warmup


def _problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 4, generator=g, dtype=torch.float64)
    return X, X @ torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)


def _step(opt, w, X, y):
    opt.zero_grad()
    ((X @ w - y) ** 2).mean().backward()
    opt.step()


def test_current_values_are_readable_from_the_optimiser():
    """lr and beta1 of a one-cycle run: schedule(0) before any step, then the value each step used."""
    X, y = _problem()
    w = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    oc = one_cycle(0.05, total_steps=30)
    opt = ravine.optim.Adam([w], lr=oc, betas=(oc.momentum, 0.999), fused=False)
    group = opt.param_groups[0]
    assert (group["lr"], group["betas"]) == (oc(0), (oc.momentum(0), 0.999))
    for k in range(30):
        _step(opt, w, X, y)
        assert (group["lr"], group["betas"]) == (oc(k), (oc.momentum(k), 0.999))
        assert group["scheduled_steps"] == k + 1


@pytest.mark.parametrize(
    ("make", "schedule"),
    [
        (lambda p, lr: ravine.optim.AdamW(p, lr=lr, weight_decay=0.1, fused=False), warmup(cosine(0.05, 20), 5)),
        (lambda p, lr: ravine.optim.SGD(p, lr=lr, momentum=0.9, fused=False), step_decay(0.02, 4, 0.5)),
    ],
    ids=["AdamW-warmup-cosine", "SGD-step-decay"],
)
def test_same_run_as_setting_group_lr_by_hand(make, schedule):
    """The scheduled run is the plain-lr run with group['lr'] = schedule(k) before step k, bit for bit."""
    X, y = _problem()
    a = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    opt_a, opt_b = make([a], schedule), make([b], 0.0)
    for k in range(25):
        _step(opt_a, a, X, y)
        opt_b.param_groups[0]["lr"] = schedule(k)
        _step(opt_b, b, X, y)
    assert torch.equal(a, b)


def test_per_group_schedules():
    X, y = _problem()
    w1 = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    w2 = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt = ravine.optim.SGD(
        [{"params": [w1], "lr": cosine(0.1, 10)}, {"params": [w2]}], lr=step_decay(0.1, 3), fused=False
    )
    for _ in range(5):
        opt.zero_grad()
        ((X @ torch.cat([w1, w2]) - y) ** 2).mean().backward()
        opt.step()
    assert [g["lr"] for g in opt.param_groups] == [cosine(0.1, 10)(4), step_decay(0.1, 3)(4)]
