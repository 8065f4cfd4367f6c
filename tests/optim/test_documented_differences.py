"""Where ravine knowingly differs from torch 2.13, each test backing a note in the README ("Optimisers")."""

from __future__ import annotations

import torch

import ravine


def test_adagrad_honours_a_per_group_initial_accumulator_value_unlike_torch() -> None:
    """A documented difference (README, "Optimisers"): torch 2.13's Adagrad fills every group's ``sum`` with the
    constructor's ``initial_accumulator_value`` and ignores a per-group value; ravine uses the group's. The
    reference for each group is torch's Adagrad built with that group's value on that group's parameters."""
    torch.manual_seed(0)
    a0, b0 = torch.randn(4, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    grads = [(torch.randn(4, 3, dtype=torch.float64), torch.randn(5, dtype=torch.float64)) for _ in range(6)]

    def run(build) -> list[torch.Tensor]:
        a, b = a0.clone().requires_grad_(), b0.clone().requires_grad_()
        opts = build(a, b)
        for ga, gb in grads:
            a.grad, b.grad = ga.clone(), gb.clone()
            for o in opts:
                o.step()
        return [a.detach(), b.detach()]

    def groups(lib):
        return lambda a, b: [lib.Adagrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 0.5}], lr=0.1)]

    ours = run(groups(ravine.optim))
    per_group = run(
        lambda a, b: [torch.optim.Adagrad([a], lr=0.1), torch.optim.Adagrad([b], lr=0.1, initial_accumulator_value=0.5)]
    )
    torch_groups = run(groups(torch.optim))
    assert torch.allclose(ours[0], per_group[0], rtol=1e-12, atol=0)
    assert torch.allclose(ours[1], per_group[1], rtol=1e-12, atol=0)
    assert not torch.allclose(torch_groups[1], per_group[1], rtol=1e-6, atol=0)  # torch 2.13 used 0, not 0.5
