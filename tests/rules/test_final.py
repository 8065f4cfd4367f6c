"""Final rules (``Rule.final``): a rule that takes the whole step and returns the parameter's new value.

Checked against torch.optim, whose Rprop, ASGD, Adafactor and Muon are such steps: the mechanism must give their
parameters and the state derived from the new parameter (ASGD's average), on the reference path and in the kernel.
"""

from __future__ import annotations

import functools

import pytest
import torch

import ravine
from ravine.fused import build
from ravine.rules import chain, clip_by_global_norm, flip_sign, heavy_ball, rprop_step, when
from ravine.rules.averaging import averaged_step
from trajectories import loss_fn, make_problem, rel_error, run

needs_kernel = pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")


def test_a_final_rule_must_come_last() -> None:
    with pytest.raises(ValueError, match="must be the last rule of the chain"):
        chain(rprop_step(), flip_sign())
    assert chain(flip_sign(), rprop_step()).final and not chain(flip_sign(), heavy_ball()).final


def test_when_cannot_switch_a_final_rule_off() -> None:
    """Switched off, it would hand the optimiser a direction where the new parameter is expected."""
    with pytest.raises(TypeError, match="final"):
        when("averaging", averaged_step())


@pytest.mark.parametrize("fused", [False, pytest.param(True, marks=needs_kernel)], ids=["reference", "fused"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_clipping_before_rprop_changes_nothing(dtype: torch.dtype, fused: bool) -> None:
    """Rprop reads only signs, which a positive rescaling keeps: global-norm clipping (a reducing rule) and then
    the final Rprop step is torch's Rprop to the last bit -- a reduction, a final rule and the kernel together."""

    def make(params, lr=0.01):
        return ravine.optim.Optimizer(params, chain(clip_by_global_norm(0.1), rprop_step()), lr=lr, fused=fused)

    ours, opt = run(make, {"lr": 0.01}, dtype, 80, groups=True)
    ref, _ = run(torch.optim.Rprop, {"lr": 0.01}, dtype, 80, groups=True)
    assert all(torch.equal(a, b) for a, b in zip(ours, ref, strict=True))
    assert opt.execution == ({"fused": 4, "reference": 0} if fused else {"fused": 0, "reference": 4})
    _, first = run(make, {"lr": 0.01}, dtype, 1, groups=True)
    assert first.reports["clip_by_global_norm"]["norm"] > 1.0  # the clip acted (by 10x at least)


@pytest.mark.parametrize("fused", [False, pytest.param(True, marks=needs_kernel)], ids=["reference", "fused"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_asgd_state_follows_torch(dtype: torch.dtype, fused: bool) -> None:
    """ASGD's eta (set from double arithmetic into a float32 0-dim state), mu and the average ax.

    Until t0, torch copies the new parameter into ax, so ax equals the parameter exactly; after t0 ax is the
    running average. eta and mu depend only on the step and lr: they match torch's bit for bit.
    """
    kwargs = {"lr": 0.02, "lambd": 0.01, "t0": 30}
    make = functools.partial(ravine.optim.ASGD, fused=fused)
    for steps in (20, 60):
        ours, opt = run(make, kwargs, dtype, steps, scheduler=True)
        ref, ref_opt = run(torch.optim.ASGD, kwargs, dtype, steps, scheduler=True)
        tol = 1e-12 if dtype == torch.float64 else 1e-5
        states = zip(opt.state.values(), ref_opt.state.values(), strict=True)
        for p, q, (st, st_ref) in zip(ours, ref, states, strict=True):
            for k in ("eta", "mu", "step"):
                assert torch.equal(st[k], st_ref[k]) and st[k].dtype == st_ref[k].dtype, k
            if steps <= 30:
                assert torch.equal(st["ax"], p)
            else:
                assert not torch.equal(st["ax"], p)
            assert torch.allclose(st["ax"], st_ref["ax"], rtol=tol, atol=tol)
            assert torch.allclose(p, q, rtol=tol, atol=tol)


def test_asgd_loads_eta_and_mu_saved_as_numbers() -> None:
    """Older torch versions saved ASGD's eta and mu as Python numbers; torch's ASGD converts them, so does ravine's."""
    kwargs = {"lr": 0.02, "t0": 5}
    mid, opt = run(torch.optim.ASGD, kwargs, torch.float64, 10)
    straight, _ = run(torch.optim.ASGD, kwargs, torch.float64, 20)
    sd = opt.state_dict()
    for st in sd["state"].values():
        st["eta"], st["mu"] = st["eta"].item(), st["mu"].item()
    params = [p.clone().requires_grad_() for p in mid]
    ours = ravine.optim.ASGD(params)
    ours.load_state_dict(sd)
    assert all(st["eta"].dtype == torch.float32 for st in ours.state.values())
    _, data = make_problem(torch.float64)
    for _ in range(10):
        ours.zero_grad()
        loss_fn(params, data).backward()
        ours.step()
    assert rel_error([p.detach() for p in params], straight) <= 1e-12
