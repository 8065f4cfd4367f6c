"""The steady-state plan notices every change that would make a prepared pointer stale or a kernel wrong.

Each scenario runs the same sequence of steps and interventions with ``fused=True`` and ``fused=False``; the
parameters and states must stay bit-identical (the reference path re-reads everything at every step).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import torch

import ravine
from ravine.fused import build

pytestmark = pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")


def _scenario(intervene: Callable[[int, list[torch.Tensor], torch.optim.Optimizer], None], fused: bool):
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(7))]
    opt = ravine.optim.Adam(params, lr=0.05, fused=fused)
    for t in range(12):
        for p in params:
            p.grad = torch.sin(p.detach() * (t + 1))
        intervene(t, params, opt)
        opt.step()
    return params, opt


def _replace_state(t, params, opt):
    if t == 6:
        opt.state[params[0]]["exp_avg"] = torch.zeros_like(params[0])


def _replace_data(t, params, opt):
    if t == 6:
        params[1].data = params[1].data.clone() * 2


def _missing_grad(t, params, opt):
    if t in (5, 6):
        params[1].grad = None


def _change_structure(t, params, opt):
    if t == 4:
        opt.param_groups[0]["weight_decay"] = 0.1
    if t == 8:
        opt.param_groups[0]["amsgrad"] = True


def _noncontiguous_grad(t, params, opt):
    if t == 7:
        params[0].grad = torch.sin(params[0].detach().t() * (t + 1)).t()


def _reload(t, params, opt):
    if t == 7:
        opt.load_state_dict(opt.state_dict())


SCENARIOS = [_replace_state, _replace_data, _missing_grad, _change_structure, _noncontiguous_grad, _reload]


@pytest.mark.parametrize("intervene", SCENARIOS, ids=[f.__name__.strip("_") for f in SCENARIOS])
def test_plan_follows_changes(intervene) -> None:
    ref, opt_ref = _scenario(intervene, fused=False)
    fused, opt_fused = _scenario(intervene, fused=True)
    for a, b in zip(ref, fused, strict=True):
        assert torch.equal(a, b)
    for sa, sb in zip(opt_ref.state.values(), opt_fused.state.values(), strict=True):
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert opt_fused.execution["fused"] == 2  # back on the fused path after the intervention


def test_background_build_then_switch_is_invisible() -> None:
    """fused=None starts on the reference path while the kernel builds, then switches; the bits do not care."""
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(100)) for _ in range(3)]
    b = [torch.nn.Parameter(p.detach().clone()) for p in a]
    auto, ref = ravine.optim.NAdam(a, lr=0.01), ravine.optim.NAdam(b, lr=0.01, fused=False)
    paths, after = set(), 0
    for t in range(300):  # the build takes a fraction of a second; give it up to ~3 s of steps
        time.sleep(0.01)
        after += True in paths
        if after > 10:
            break
        for x, y in zip(a, b, strict=True):
            x.grad = torch.cos(x.detach() * t)
            y.grad = torch.cos(y.detach() * t)
        auto.step()
        ref.step()
        paths.add(auto.execution["fused"] > 0)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert True in paths  # it switched to the kernel (or found it cached) and the bits did not change
