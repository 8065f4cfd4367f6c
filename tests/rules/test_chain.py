"""Composition: chains flatten, refuse ambiguous names, and a hand-built chain is the optimiser it spells."""

from __future__ import annotations

import pytest
import torch

import ravine
from ravine.rules import (
    add_decayed_weights,
    add_weight_decay,
    chain,
    clip_by_global_norm,
    flip_sign,
    heavy_ball,
    scale_by_adam,
    scale_by_rms,
)
from trajectories import rel_error, run


def test_chains_flatten() -> None:
    inner = chain(flip_sign(), add_weight_decay())
    outer = chain(inner, scale_by_adam())
    assert [type(r).__name__ for r in outer.rules] == ["flip_sign", "add_weight_decay", "scale_by_adam"]
    assert set(outer.hyperparams) == {"maximize", "weight_decay", "betas", "eps", "amsgrad"}


def test_conflicting_hyperparameter_defaults_are_refused() -> None:
    with pytest.raises(ValueError, match=r"hyperparameter 'eps' is set to 1e-08 by .* and to 1e-06"):
        chain(scale_by_adam(eps=1e-8), scale_by_rms(eps=1e-6))


def test_two_rules_with_one_state_name_are_refused() -> None:
    with pytest.raises(ValueError, match="state 'momentum_buffer' is kept by both"):
        chain(heavy_ball(0.9), heavy_ball(0.9))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_hand_built_adamw_is_torch_adamw(dtype: torch.dtype) -> None:
    """The README's example of composing: AdamW spelled as rules equals torch.optim.AdamW."""

    def make(params, lr=0.01):
        return ravine.optim.Optimizer(params, chain(scale_by_adam(), add_decayed_weights(0.05)), lr=lr)

    ours, _ = run(make, {"lr": 0.01}, dtype)
    ref, _ = run(torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.05}, dtype)
    assert rel_error(ours, ref) <= (1e-12 if dtype == torch.float64 else 1e-5)


def test_global_norm_spans_all_groups_like_clip_grad_norm() -> None:
    """clip_by_global_norm then SGD equals torch's clip_grad_norm_ over every parameter, then torch's SGD."""
    torch.manual_seed(0)
    a, b = torch.randn(5, requires_grad=True), torch.randn(3, requires_grad=True)
    a2, b2 = a.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()
    ours = ravine.optim.Optimizer(
        [{"params": [a]}, {"params": [b], "lr": 0.05}], chain(clip_by_global_norm(0.5)), lr=0.1
    )
    ref = torch.optim.SGD([{"params": [a2]}, {"params": [b2], "lr": 0.05}], lr=0.1)
    for _ in range(3):
        for opt, x, y in ((ours, a, b), (ref, a2, b2)):
            opt.zero_grad()
            ((x**2).sum() * 3 + (y**3).sum()).backward()
            if opt is ref:
                total = torch.nn.utils.clip_grad_norm_([x, y], 0.5)
            opt.step()
        assert ours.reports["clip_by_global_norm"]["norm"].item() == pytest.approx(total.item(), rel=1e-6)
    assert torch.allclose(a, a2, rtol=1e-6) and torch.allclose(b, b2, rtol=1e-6)


def test_rule_update_is_the_multi_tensor_api() -> None:
    """`update` turns a list of updates into directions; Adam's first direction is g / (|g| + eps) elementwise."""
    rule = scale_by_adam()
    p = torch.zeros(4, dtype=torch.float64)
    g = torch.tensor([0.5, -2.0, 3.0, -0.25], dtype=torch.float64)
    group = dict(rule.hyperparams, lr=1.0)
    state = {"step": torch.tensor(1.0), **rule.init(p, group)}
    (u,) = rule.update([g], [p], [state], [group])
    assert torch.allclose(u, g / (g.abs() + 1e-8), rtol=1e-15)
    assert torch.allclose(state["exp_avg"], 0.1 * g, rtol=1e-15)
