"""Nothing the Triton kernel cannot take reaches it: such parameters keep the reference path, and the run is the
reference run bit for bit (so a wrong check would show as a crash or a difference, not pass silently)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ravine
from fused.triton._compare import same_bits
from ravine.fused import triton as rt
from ravine.fused.triton.step import fusable


class Tagged(torch.Tensor):
    """A tensor subclass, as DTensor and others are: its memory layout is not the kernel's business."""


def _steps(params, opt, steps=3, transpose_at=None):
    for t in range(steps):
        for i, p in enumerate(params):
            g = torch.cos(p.detach() * (t + 1)).to(p.dtype)
            if transpose_at == (t, i) and g.dim() == 2:
                g = g.t().contiguous().t()  # same values, column-major: not contiguous
            p.grad = g
        opt.step()
    return [p.detach().clone() for p in params]


def _both(make_params, make_opt, **kw):
    ref = _steps(ps := make_params(), make_opt(ps, False), **kw)
    with rt.interpret_cpu():
        opt = make_opt(qs := make_params(), None)
        got = _steps(qs, opt, **kw)
    assert all(same_bits(a, b) for a, b in zip(ref, got, strict=True))
    return opt


def test_subclass_parameter_takes_the_reference_path() -> None:
    def params():
        base = torch.linspace(-1, 1, 12).reshape(3, 4)
        return [torch.nn.Parameter(Tagged(base.clone())), torch.nn.Parameter(torch.ones(5))]

    opt = _both(params, lambda ps, f: ravine.optim.Adam(ps, lr=0.1, fused=f))
    # Triton declines the subclass (no Triton plan); on CPU the C kernel may take it once built, or the reference
    assert opt._plan is None and opt.execution["fused"] >= 1


def test_non_contiguous_gradient_takes_the_reference_path_that_step() -> None:
    def params():
        return [torch.nn.Parameter(torch.linspace(-1, 1, 12).reshape(3, 4)), torch.nn.Parameter(torch.ones(5))]

    opt = _both(params, lambda ps, f: ravine.optim.SGD(ps, lr=0.1, momentum=0.9, fused=f), transpose_at=(1, 0))
    assert opt.execution == {"fused": 2, "reference": 0}  # back on the kernel afterwards


def test_16_bit_parameters_without_float32_state_and_complex_ones() -> None:
    def params():
        return [
            torch.nn.Parameter(torch.linspace(-1, 1, 6).to(torch.bfloat16)),
            torch.nn.Parameter(torch.linspace(-1, 1, 6).to(torch.float16)),
            torch.nn.Parameter(torch.linspace(-1, 1, 6) * (1 + 1j)),
            torch.nn.Parameter(torch.ones(4)),
        ]

    opt = _both(params, lambda ps, f: ravine.optim.Adam(ps, lr=0.1, fused=f))
    # the 16-bit ones take the reference path; the complex one the C kernel once it is built, or the reference
    assert opt.execution["reference"] >= 2 and opt._plan is None


def test_a_replaced_state_of_another_dtype() -> None:
    p = torch.nn.Parameter(torch.ones(4))
    st = {"step": torch.tensor(1.0), "exp_avg": torch.zeros(4, dtype=torch.float64), "exp_avg_sq": torch.zeros(4)}
    with rt.interpret_cpu():
        assert not fusable(p, torch.ones(4), st, mixed=False)
        assert fusable(p, torch.ones(4), {**st, "exp_avg": torch.zeros(4)}, mixed=False)
        assert not fusable(p, torch.ones(4, dtype=torch.float64), {**st, "exp_avg": torch.zeros(4)}, mixed=False)
    assert not fusable(p, torch.ones(4), {**st, "exp_avg": torch.zeros(4)}, mixed=False)  # CPU: the C kernel's


DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]


@settings(max_examples=12, deadline=None)
@given(
    shapes=st.lists(st.lists(st.integers(0, 9), min_size=0, max_size=2), min_size=1, max_size=4),
    dtypes=st.lists(st.sampled_from(DTYPES), min_size=4, max_size=4),
    mixed=st.booleans(),
    which=st.sampled_from(["Adam", "SGD", "RMSprop", "Adadelta"]),
    transpose=st.booleans(),
)
def test_fuzz_never_crashes_and_equals_the_reference(shapes, dtypes, mixed, which, transpose) -> None:
    def params():
        g = torch.Generator().manual_seed(0)
        return [torch.nn.Parameter(torch.randn(tuple(s), generator=g).to(dtypes[i % 4])) for i, s in enumerate(shapes)]

    cls = getattr(ravine.optim, which)
    sd = torch.float32 if mixed else None
    _both(params, lambda ps, f: cls(ps, lr=0.01, state_dtype=sd, fused=f), steps=2,
          transpose_at=(1, 0) if transpose else None)  # fmt: skip


def test_a_kernel_that_fails_to_compile_leaves_the_reference_path(monkeypatch, caplog) -> None:
    """A Triton too old or too new for a generated kernel: a warning, then the reference path, same bits."""
    from ravine.fused.triton import kernels

    def broken(source, interpret):
        raise RuntimeError("simulated compiler failure")

    monkeypatch.setattr(kernels, "kernel", broken)
    monkeypatch.setattr(kernels, "_broken", set())

    def params():
        return [torch.nn.Parameter(torch.linspace(-1, 1, 7)), torch.nn.Parameter(torch.ones(3))]

    opt = _both(params, lambda ps, f: ravine.optim.Adam(ps, lr=0.1, fused=f))
    assert opt._plan is None  # no Triton plan; on these CPU tensors the C kernel took the steps instead
    assert "the Triton kernel failed" in caplog.text
