"""Shapes and layouts the kernel must get right: 0-dim and empty tensors, odd sizes, tensors spanning several
programs (the masked tail and the unmasked body), many small tensors in one launch, and parameter groups with
different structures (several batches). Each run is compared bit for bit with the reference path."""

from __future__ import annotations

import pytest
import torch

import ravine
from fused.triton._compare import assert_same_run
from ravine.fused import triton as rt
from ravine.fused.triton import launch

SHAPES = {
    "0-dim": [()],
    "empty": [(0,), (3,)],
    "odd": [(1,), (3,), (7, 5), (33,)],
    "several-blocks": [(64,), (65,), (200, 3), (129,)],  # with 64 elements per program
    "many-small": [(i % 5 + 1,) for i in range(24)],
}
OPTIMISERS = {
    "adam": lambda ps, fused: ravine.optim.Adam(ps, lr=0.01, amsgrad=True, fused=fused),
    "momentum": lambda ps, fused: ravine.optim.SGD(ps, lr=0.05, momentum=0.9, fused=fused),
    "clip+rms": lambda ps, fused: ravine.optim.Optimizer(
        ps, ravine.chain(ravine.rules.clip_by_global_norm(0.1), ravine.rules.scale_by_rms()), lr=0.01, fused=fused
    ),
}


def _run(shapes, make, dtype, fused, steps=4, split=False):
    g = torch.Generator().manual_seed(1)
    params = [torch.randn(s, generator=g, dtype=dtype).requires_grad_() for s in shapes]
    if split:  # two groups whose structures differ: two batches, two launches
        groups = [{"params": params[::2]}, {"params": params[1::2], "weight_decay": 0.1}]
        opt = make(groups, fused)
    else:
        opt = make(params, fused)
    for t in range(steps):
        for p in params:
            p.grad = torch.sin(p.detach() * (t + 1) + 0.3)
        opt.step()
    return [p.detach() for p in params], opt


@pytest.mark.parametrize("opt", list(OPTIMISERS))
@pytest.mark.parametrize("shapes", list(SHAPES))
def test_shapes(shapes: str, opt: str, interp, monkeypatch) -> None:
    monkeypatch.setattr(launch, "BLOCK", 64)
    make = OPTIMISERS[opt]
    with rt.interpret_cpu(False):
        ref, opt_ref = _run(SHAPES[shapes], make, torch.float32, fused=False)
    got, opt_got = _run(SHAPES[shapes], make, torch.float32, fused=None)
    assert opt_got.execution["reference"] == 0
    assert_same_run(ref, got, opt_ref, opt_got)


def test_groups_of_different_structure_are_batches(interp, monkeypatch) -> None:
    monkeypatch.setattr(launch, "BLOCK", 64)
    shapes = SHAPES["several-blocks"] + SHAPES["odd"]

    def make(ps, fused):
        return ravine.optim.AdamW(ps, lr=0.01, weight_decay=0.0, fused=fused)

    with rt.interpret_cpu(False):
        ref, opt_ref = _run(shapes, make, torch.float64, fused=False, split=True)
    got, opt_got = _run(shapes, make, torch.float64, fused=None, split=True)
    assert len(opt_got._plan.batches) == 2
    assert_same_run(ref, got, opt_ref, opt_got)
