"""The steady-state plan follows what ``load_state_dict`` replaces: the parameter groups (which hold the learning
rate a schedule moves) and the state dicts (which may hold new 0-dim tensors, such as NAdam's mu_product, cast by
torch's loader). Found by the distributed-checkpoint tests: a resumed run kept writing a stale mu_product and
reading a stale learning rate. The reference is the same run on the reference path."""

from __future__ import annotations

import pytest
import torch

import ravine
from ravine.fused import build
from ravine.schedules import cosine

pytestmark = pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")


def _run(make, fused: bool) -> tuple[list[torch.Tensor], dict]:
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64)), torch.nn.Parameter(torch.randn(5))]
    opt = make(params, fused)
    for t in range(8):
        for p in params:
            p.grad = torch.cos(p.detach() * (t + 1))
        if t == 3:
            opt.load_state_dict(opt.state_dict())
        opt.step()
    return params, opt.state_dict()


@pytest.mark.parametrize(
    "make",
    [
        lambda ps, f: ravine.optim.NAdam(ps, lr=0.05, fused=f),
        lambda ps, f: ravine.optim.AdamW(ps, lr=cosine(0.05, 8), fused=f),
    ],
    ids=["nadam-mu_product", "adamw-scheduled-lr"],
)
def test_plan_after_load_state_dict(make) -> None:
    ref, ref_sd = _run(make, False)
    got, got_sd = _run(make, True)
    for a, b in zip(ref, got, strict=True):
        assert torch.equal(a, b)
    for pid, st in ref_sd["state"].items():
        for k, v in st.items():
            assert torch.equal(v, got_sd["state"][pid][k]), k
