"""The fused kernel computes the same bits as the reference path (float64 and float32 alike).

Both run :func:`ravine.rules.base.segment_math`: the reference path on tensors, the kernel as C traced from it.
Exact equality of parameters and every state tensor after 60 steps is the claim, for every optimiser option in the
parity matrix and for user chains with clipping and the numeric variants frameworks disagree on.
"""

from __future__ import annotations

import functools

import pytest
import torch

import ravine
from ravine.fused import build
from ravine.rules import (
    add_decayed_weights,
    add_weight_decay,
    averaged_step,
    clip_by_global_norm,
    clip_by_value,
    heavy_ball,
    rprop_step,
    scale_by_adagrad,
    scale_by_adam,
    scale_by_radam,
    scale_by_rms,
)
from trajectories import CASES, run

pytestmark = pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")

CHAINS = {
    "clip-norm+adam+decay": lambda: ravine.chain(
        clip_by_global_norm(2.0), scale_by_adam(betas=(0.9, 0.95)), add_decayed_weights(0.1)
    ),
    "clip-norm-inf+momentum": lambda: ravine.chain(clip_by_global_norm(1.0, norm_type=float("inf")), heavy_ball(0.9)),
    "clip-value+rms-eps-inside": lambda: ravine.chain(clip_by_value(0.5), scale_by_rms(eps_in_sqrt=True)),
    "adam-no-bias-correction-eps-inside": lambda: ravine.chain(
        scale_by_adam(bias_correction=False, eps_in_sqrt=True, eps=1e-3)
    ),
    "adagrad-eps-inside+zeros-momentum": lambda: ravine.chain(
        scale_by_adagrad(eps_in_sqrt=True, initial_accumulator_value=0.1), heavy_ball(0.5, dampening=0.3, init="zeros")
    ),
    # final rules (they return the new parameter) after other rules, and after a reduction
    "clip-value+radam+decay": lambda: ravine.chain(clip_by_value(0.5), scale_by_radam(), add_decayed_weights(0.1)),
    "decay+asgd-averaging-early": lambda: ravine.chain(add_weight_decay(0.01), averaged_step(t0=10, lambd=0.01)),
    "clip-norm+rprop": lambda: ravine.chain(clip_by_global_norm(0.5), rprop_step(etas=(0.4, 1.3))),
}


def _equal_runs(make, kwargs: dict, dtype: torch.dtype, steps: int = 60, **mode) -> None:
    ref, opt_ref = run(make(False), kwargs, dtype, steps, **mode)
    fused, opt_fused = run(make(True), kwargs, dtype, steps, **mode)
    assert opt_fused.execution["reference"] == 0 and opt_fused.execution["fused"] == 4
    assert opt_ref.execution["fused"] == 0
    for a, b in zip(ref, fused, strict=True):
        assert torch.equal(a, b)
    for sa, sb in zip(opt_ref.state.values(), opt_fused.state.values(), strict=True):
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [pytest.param(n, kw, id=f"{n}-{i}") for n, cases in CASES.items() for i, kw in enumerate(cases)],
)
def test_optimisers_bitwise(name: str, kwargs: dict, dtype: torch.dtype) -> None:
    cls = getattr(ravine.optim, name)
    _equal_runs(lambda fused: functools.partial(cls, fused=fused), kwargs, dtype, groups=True)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("chain", list(CHAINS))
def test_user_chains_bitwise(chain: str, dtype: torch.dtype) -> None:
    def make(fused: bool):
        return functools.partial(ravine.optim.Optimizer, rule=CHAINS[chain](), fused=fused)

    _equal_runs(make, {"lr": 0.01}, dtype, groups=True)


def test_hyperparameters_are_arguments_not_constants() -> None:
    """Changing lr and betas every step (a one-cycle schedule) reuses one kernel: no rebuild, same bits."""
    p = torch.nn.Parameter(torch.ones(1000))
    opt = ravine.optim.Adam([p], lr=1e-3, fused=True)
    for t in range(5):
        opt.param_groups[0]["lr"] = 1e-3 * (t + 1)
        opt.param_groups[0]["betas"] = (0.9 - 0.01 * t, 0.999)
        p.grad = torch.full_like(p, 0.5)
        opt.step()
    assert len(opt._specs) == 1
