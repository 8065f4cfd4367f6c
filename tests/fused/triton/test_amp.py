"""AMP as users run it: float16 autocast with ``torch.amp.GradScaler`` (which exists on CPU), and torch.compile.

GradScaler unscales the gradients (``unscale_``), skips ``optimizer.step()`` when it found an inf or NaN, and
adjusts the scale. With the Triton kernel taking the step, the run must equal the same run with torch.optim.Adam
(the outside reference) and with ravine's reference path, including a step that overflows and is skipped.
"""

from __future__ import annotations

import pytest
import torch

import ravine
from fused.triton._compare import same_bits
from ravine.fused import triton as rt


def _train(make, steps: int = 5, blow_up_at: int = 2, clip: bool = True):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = make(model.parameters())
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    x, y = torch.randn(16, 6), torch.randn(16, 1)
    scales, skipped = [], []
    for t in range(steps):
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            loss = torch.nn.functional.mse_loss(model(x), y)
        if t == blow_up_at:
            loss = loss * float("inf")  # an overflow: the scaler must skip this step
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        before = [p.detach().clone() for p in model.parameters()]
        scaler.step(opt)
        scaler.update()
        skipped.append(all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True)))
        scales.append(scaler.get_scale())
    return [p.detach() for p in model.parameters()], opt, scales, skipped


@pytest.mark.parametrize("clip", [True, False], ids=["unscale+clip", "plain"])
def test_grad_scaler_with_the_triton_step(clip: bool) -> None:
    torch_p, _, torch_scales, torch_skipped = _train(lambda ps: torch.optim.Adam(ps, lr=0.01), clip=clip)
    ref_p, _, _, _ = _train(lambda ps: ravine.optim.Adam(ps, lr=0.01, fused=False), clip=clip)
    with rt.interpret_cpu():
        got_p, got_opt, scales, skipped = _train(lambda ps: ravine.optim.Adam(ps, lr=0.01), clip=clip)
    assert got_opt.execution == {"fused": 4, "reference": 0}
    assert skipped == torch_skipped == [False, False, True, False, False]
    assert scales == torch_scales
    for a, b, c in zip(got_p, ref_p, torch_p, strict=True):
        assert same_bits(a, b)
        torch.testing.assert_close(a, c, rtol=1e-6, atol=1e-7)  # torch's Adam rounds a few operations differently
    steps = {float(st["step"]) for st in got_opt.state.values()}
    assert steps == {4.0}  # five steps, one skipped


def test_compiled_step_has_no_graph_break() -> None:
    """``torch.compile(opt.step, fullgraph=True)`` traces ravine's step in one graph (the reference path: under
    compile inductor fuses it into its own kernels); a whole training step breaks only at ``backward()``, as it
    does with torch.optim's optimisers."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x, y = torch.randn(32, 5), torch.randn(32, 1)
    opt = ravine.optim.Optimizer(
        model.parameters(), ravine.chain(ravine.rules.clip_by_global_norm(1.0), ravine.rules.scale_by_adam()), lr=0.01
    )

    def train():
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    torch._dynamo.reset()
    explained = torch._dynamo.explain(train)()
    assert explained.graph_break_count == 1
    assert "backward" in explained.break_reasons[0].reason
    torch._dynamo.reset()
    compiled = torch.compile(opt.step, fullgraph=True)
    before = [p.detach().clone() for p in model.parameters()]
    compiled()
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    torch._dynamo.reset()
