"""The elementwise ops a rule may use (abs, sign, comparisons, where) mean what torch means, on every path.

A test-only rule uses each op; its updates are checked against the same equations written directly with torch
functions (the outside reference), and the fused kernel against the reference path bit for bit, including NaN,
signed zeros, infinities and a float32 value equal to a constant that float32 cannot represent exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import ravine
from ravine.fused import build
from ravine.rules import ElementwiseRule, ops

needs_cc = pytest.mark.skipif(build.toolchain() is None, reason="no C compiler: only the reference path exists")


class _sign_agreement(ElementwiseRule):
    """2 sign(u) where u agrees in sign with the last update, -|u| where it disagrees, else u (1 at 0); halved at or
    below ``cut``; plus sign(u) / 4."""

    state_names = ("prev",)

    def __init__(self, cut: float = 0.1) -> None:
        super().__init__(cut=cut)

    def apply(self, u: Any, p: Any, s: dict, h: Any, c: dict) -> Any:
        agree = u * s["prev"]
        out = ops.where(ops.greater(agree, 0.0), ops.sign(u) * 2.0, ops.where(ops.less(agree, 0.0), -ops.abs(u), u))
        out = ops.where(ops.equal(u, 0.0), 1.0, out)
        out = ops.where(ops.greater(u, h["cut"]), out, out * 0.5) + ops.sign(u) * 0.25
        s["prev"] = u
        return out


def _torch_reference(grads: list[torch.Tensor], cut: float, lr: float, p0: torch.Tensor) -> torch.Tensor:
    p, prev = p0.clone(), torch.zeros_like(p0)
    for u in grads:
        agree = u * prev
        out = torch.where(agree > 0, torch.sign(u) * 2.0, torch.where(agree < 0, -torch.abs(u), u))
        out = torch.where(u == 0, 1.0, out)
        out = torch.where(u > cut, out, out * 0.5) + torch.sign(u) * 0.25
        prev = u
        p = p - out * lr
    return p


def _grads(dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    special = torch.tensor([float("nan"), -0.0, 0.0, float("inf"), -float("inf"), 0.1, -0.1, 1e-30], dtype=dtype)
    out = []
    for _ in range(6):
        x = torch.randn(300, generator=g, dtype=torch.float64).to(dtype)
        x[:8] = special  # fixed places: a NaN or inf must not spread over the places that test the rest
        out.append(x)
    return out


def _run(dtype: torch.dtype, fused: bool) -> tuple[torch.Tensor, ravine.optim.Optimizer]:
    p = torch.nn.Parameter(torch.linspace(-1, 1, 300, dtype=dtype))
    opt = ravine.optim.Optimizer([p], _sign_agreement(cut=0.1), lr=0.01, fused=fused)
    for g in _grads(dtype):
        p.grad = g.clone()
        opt.step()
    return p.detach(), opt


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_reference_path_is_torch(dtype: torch.dtype) -> None:
    got, _ = _run(dtype, fused=False)
    want = _torch_reference(_grads(dtype), 0.1, 0.01, torch.linspace(-1, 1, 300, dtype=dtype))
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(torch.nan_to_num(got), torch.nan_to_num(want))


@needs_cc
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_kernel_equals_reference(dtype: torch.dtype) -> None:
    ref, _ = _run(dtype, fused=False)
    got, opt = _run(dtype, fused=True)
    assert opt.execution == {"fused": 1, "reference": 0}
    assert torch.equal(got.isnan(), ref.isnan())
    assert torch.equal(torch.nan_to_num(got), torch.nan_to_num(ref))
    assert torch.equal(torch.signbit(got), torch.signbit(ref))


def test_float32_compares_in_float32() -> None:
    """torch rounds 0.1 to float32 before comparing a float32 tensor with it: 0.1f > 0.1 is False there."""
    x = torch.tensor([0.1], dtype=torch.float32)
    assert not bool(ops.greater(x, 0.1))


def test_sign_of_specials() -> None:
    x = torch.tensor([float("nan"), -0.0, 0.0, -2.0, 3.0])
    assert ops.sign(x).tolist() == torch.sign(x).tolist()
    assert [ops.sign(v) for v in (-0.0, 0.0, -2.0, 3.0)] == [0.0, 0.0, -1.0, 1.0]
    assert ops.sign(float("nan")) == 0.0  # torch.sign(nan) is 0


def test_where_needs_a_tensor_branch() -> None:
    with pytest.raises(TypeError, match="tensor on at least one side"):
        ops.where(torch.tensor([True]), 1.0, 2.0)


def test_traced_conditions_are_not_numbers() -> None:
    from ravine.fused.trace import Graph

    g = Graph()
    u = g.input("u", "elem", "f32")
    cond = ops.greater(u, 0.0)
    with pytest.raises(TypeError, match="condition for where"):
        _ = cond * 2.0
    with pytest.raises(TypeError, match="tensor on at least one side"):
        ops.where(cond, 1.0, 2.0)
    with pytest.raises(TypeError, match="use where"):
        ops.select(cond, u, u)
