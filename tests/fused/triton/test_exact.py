"""Under Triton's interpreter the generated kernels compute the reference path's bits, for every optimiser.

The claim is exact equality (NaN equal to NaN) of the parameters and every state tensor, for each class in
``ravine.optim`` with torch.optim's option matrix (``tests/trajectories.py``), two parameter groups, float32 and
float64; for the user chains of the C kernel's tests; and for a held-out set of chains written for this backend
only. The interpreter is numpy: each operation is correctly rounded in its dtype, as torch's kernels are, and the
emitted code converts and rounds where the graph says. What a GPU may add (libdevice's ``pow``) is in docs/gpu.md.
"""

from __future__ import annotations

import functools

import pytest
import torch

import ravine
from fused.test_exact import CHAINS
from fused.triton._compare import assert_same_run
from ravine.rules import (
    add_decayed_weights,
    add_weight_decay,
    clip_by_global_norm,
    clip_by_value,
    flip_sign,
    heavy_ball,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_nadam,
    scale_by_rms,
)
from trajectories import CASES, run

# Written for this backend and never used to tune it: each mixes rules the optimiser classes do not combine.
HELD_OUT = {
    "clip-norm-1.5+nadam+decay": lambda: ravine.chain(
        clip_by_global_norm(0.5, norm_type=1.5), scale_by_nadam(momentum_decay=0.01), add_decayed_weights(0.05)
    ),
    "adadelta+nesterov": lambda: ravine.chain(scale_by_adadelta(rho=0.8), heavy_ball(0.7, nesterov=True)),
    "clip-value+amsgrad-eps-inside": lambda: ravine.chain(
        clip_by_value(0.3), scale_by_adam(amsgrad=True, eps_in_sqrt=True, eps=1e-6)
    ),
    "decay+centered-rms+zeros-momentum": lambda: ravine.chain(
        add_weight_decay(0.01), scale_by_rms(alpha=0.9, centered=True), heavy_ball(0.9, init="zeros")
    ),
    "clip-norm-inf+flip+adam-no-bias-correction": lambda: ravine.chain(
        clip_by_global_norm(3.0, norm_type=float("inf")), flip_sign(), scale_by_adam(bias_correction=False)
    ),
}

DTYPES = [pytest.param(torch.float32, id="f32"), pytest.param(torch.float64, id="f64")]


def _equal_runs(make, kwargs: dict, dtype: torch.dtype, steps: int) -> None:
    ref, opt_ref = run(make(False), kwargs, dtype, steps, groups=True)
    from ravine.fused import triton as rt

    with rt.interpret_cpu():
        got, opt_got = run(make(None), kwargs, dtype, steps, groups=True)
    assert opt_got.execution == {"fused": 4, "reference": 0}
    assert type(opt_got._plan).__name__ == "TritonPlan"
    assert_same_run(ref, got, opt_ref, opt_got)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [pytest.param(n, kw, id=f"{n}-{i}") for n, cases in CASES.items() for i, kw in enumerate(cases)],
)
def test_optimisers_float32(name: str, kwargs: dict, steps: int) -> None:
    cls = getattr(ravine.optim, name)
    _equal_runs(lambda fused: functools.partial(cls, fused=fused), kwargs, torch.float32, steps)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [pytest.param(n, kw, id=f"{n}-{i}") for n, cases in CASES.items() for i, kw in enumerate(cases)],
)
def test_optimisers_float64(name: str, kwargs: dict, steps: int, full: bool) -> None:
    """Light form: the first case of each optimiser; ``--full``: all."""
    if not full and kwargs is not CASES[name][0]:
        pytest.skip("light form: the first case of each optimiser (--full runs all)")
    cls = getattr(ravine.optim, name)
    _equal_runs(lambda fused: functools.partial(cls, fused=fused), kwargs, torch.float64, steps)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("chain", [*CHAINS, *HELD_OUT])
def test_chains(chain: str, dtype: torch.dtype, steps: int) -> None:
    make_rule = {**CHAINS, **HELD_OUT}[chain]

    def make(fused):
        return functools.partial(ravine.optim.Optimizer, rule=make_rule(), fused=fused)

    _equal_runs(make, {"lr": 0.01}, dtype, steps)
