"""Clipping rules against torch.nn.utils.clip_grad_norm_ / clip_grad_value_.

A ravine optimiser with only the clipping rule and ``lr=1`` on parameters that start at 0 gives
``p = -clip(g)`` exactly, so the clipped gradients can be read off the parameters. float64: bit for bit with
torch (the same operations on the same dtype), and the reported pre-clip norm equals torch's returned total norm.
float32: torch computes the total norm and the clip coefficient in float32, ravine in float64 (then rounds the
product once), so they agree to 2 ulp.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

import ravine
from ravine.rules import chain, clip_by_global_norm, clip_by_value, scale_by_adam

SHAPES = [(3, 4), (5,), (2, 2, 3), (1,)]


def _grads(dtype, scale=1.0, special=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    grads = [scale * torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in SHAPES]
    if special == "zero":
        grads = [torch.zeros_like(x) for x in grads]
    elif special in ("inf", "nan"):
        grads[1][2] = float(special)
    return grads


def _ravine_clip(rule, grads, fused=False):
    """Two parameter groups (the norm is global over both); returns (clipped gradients, optimiser)."""
    params = [torch.nn.Parameter(torch.zeros_like(x)) for x in grads]
    for p, x in zip(params, grads, strict=True):
        p.grad = x.clone()
    opt = ravine.optim.Optimizer([{"params": params[:2]}, {"params": params[2:]}], chain(rule), lr=1.0, fused=fused)
    opt.step()
    return [-p.detach() for p in params], opt


def _torch_clip(fn, grads, *args):
    params = [torch.nn.Parameter(torch.zeros_like(x)) for x in grads]
    for p, x in zip(params, grads, strict=True):
        p.grad = x.clone()
    out = fn(params, *args)
    return [p.grad for p in params], out


def _same(a, b, dtype=torch.float64):
    """Equal (nan where the other is nan) in float64; within 2 ulp in float32."""
    rtol = 0.0 if dtype == torch.float64 else 2 * torch.finfo(dtype).eps
    return all(torch.allclose(x, y, rtol=rtol, atol=0, equal_nan=True) for x, y in zip(a, b, strict=True))


NORMS = [2.0, 1.0, math.inf, 3.0, 0.5]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("norm_type", NORMS, ids=[f"q={q}" for q in NORMS])
@pytest.mark.parametrize("scale", [10.0, 0.01], ids=["large", "small"])
def test_global_norm_matches_torch(norm_type, scale, dtype):
    grads = _grads(dtype, scale)
    ours, opt = _ravine_clip(clip_by_global_norm(max_norm=1.0, norm_type=norm_type), grads)
    ref, total = _torch_clip(clip_grad_norm_, grads, 1.0, norm_type)
    assert _same(ours, ref, dtype)
    norm = opt.reports["clip_by_global_norm"]["norm"]
    if dtype == torch.float64:
        assert norm.item() == total.item()
    else:
        assert norm.item() == pytest.approx(total.item(), rel=2 * torch.finfo(dtype).eps)
    if total > 1.0:
        after = torch.stack([torch.linalg.vector_norm(x, norm_type) for x in ours])
        assert torch.linalg.vector_norm(after, norm_type) <= 1.0
    else:
        assert all(torch.equal(x, g) for x, g in zip(ours, grads, strict=True))


@pytest.mark.parametrize("special", ["zero", "inf", "nan"])
def test_global_norm_special_gradients_match_torch(special):
    """A zero gradient passes unchanged (the eps 1e-6 keeps the ratio finite); inf and nan spread as in torch."""
    grads = _grads(torch.float64, special=special)
    ours, opt = _ravine_clip(clip_by_global_norm(1.0), grads)
    ref, total = _torch_clip(clip_grad_norm_, grads, 1.0)
    assert _same(ours, ref, torch.float64)
    assert torch.allclose(opt.reports["clip_by_global_norm"]["norm"], total, rtol=0, atol=0, equal_nan=True)


def test_norm_is_reported_every_step_without_a_second_pass():
    params = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in SHAPES]
    opt = ravine.optim.Optimizer(params, chain(clip_by_global_norm(1.0)), lr=1.0, fused=False)
    for seed in range(3):
        grads = _grads(torch.float64, 5.0, seed=seed)
        for p, x in zip(params, grads, strict=True):
            p.grad = x
        opt.step()
        _, total = _torch_clip(clip_grad_norm_, grads, 1.0)
        assert opt.reports["clip_by_global_norm"]["norm"].item() == total.item()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("special", [None, "inf", "nan"])
def test_value_matches_torch(dtype, special):
    grads = _grads(dtype, 3.0, special=special)
    ours, _ = _ravine_clip(clip_by_value(0.5), grads)
    ref, _ = _torch_clip(clip_grad_value_, grads, 0.5)
    assert _same(ours, ref)  # clamping is exact in any dtype


@pytest.mark.parametrize("rule", [clip_by_global_norm(0.3), clip_by_value(0.2)], ids=["norm", "value"])
def test_fused_kernel_clips_like_torch(rule):
    """The generated kernel (ravine.fused) computes the same clipped gradients as the reference path."""
    grads = _grads(torch.float64, 4.0)
    try:
        ours, opt = _ravine_clip(rule, grads, fused=True)
    except (RuntimeError, OSError) as e:  # no C compiler on this machine
        pytest.skip(f"fused kernel unavailable: {e}")
    assert opt.execution["fused"] == len(grads)
    if isinstance(rule, clip_by_value):
        ref, _ = _torch_clip(clip_grad_value_, grads, 0.2)
    else:
        ref, _ = _torch_clip(clip_grad_norm_, grads, 0.3)
    assert _same(ours, ref, torch.float64)


def test_clip_then_adam_matches_torch():
    """chain(clip_by_global_norm, scale_by_adam) = clip_grad_norm_ then torch.optim.Adam, step after step."""
    shapes = SHAPES
    torch.manual_seed(3)
    init = [torch.randn(s, dtype=torch.float64) for s in shapes]
    ours = [torch.nn.Parameter(x.clone()) for x in init]
    ref = [torch.nn.Parameter(x.clone()) for x in init]
    opt = ravine.optim.Optimizer(ours, chain(clip_by_global_norm(0.5), scale_by_adam()), lr=0.01, fused=False)
    ref_opt = torch.optim.Adam(ref, lr=0.01)
    for seed in range(10):
        grads = _grads(torch.float64, 2.0, seed=seed)
        for p, q, x in zip(ours, ref, grads, strict=True):
            p.grad, q.grad = x.clone(), x.clone()
        opt.step()
        clip_grad_norm_(ref, 0.5)
        ref_opt.step()
    # ravine's Adam and torch's round differently in the last bit (see the Adam tests), hence a tolerance
    assert all(torch.allclose(p, q, rtol=1e-13, atol=1e-15) for p, q in zip(ours, ref, strict=True))


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_value(0.0))), "clip_value"),
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_value(-1.0))), "clip_value"),
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_global_norm(0.0))), "max_norm"),
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_global_norm(1.0, norm_type=0.0))), "norm_type"),
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_global_norm(1.0, eps=-1e-6))), "eps"),
        (lambda p: ravine.optim.Optimizer(p, chain(clip_by_global_norm(1.0)), max_norm=float("nan")), "max_norm"),
    ],
    ids=["value-0", "value-neg", "norm-0", "norm-type-0", "eps-neg", "max-norm-nan"],
)
def test_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build([torch.nn.Parameter(torch.zeros(2))])
