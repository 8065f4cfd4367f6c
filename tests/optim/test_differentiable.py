"""``differentiable=True``: the step is an autograd-visible function of parameters, gradients, state and tensor
hyperparameters, checked as torch checks its own (``torch.autograd.gradcheck`` in float64) and against torch.

For each optimiser that takes ``differentiable`` in torch, one step maps (p, grad, state..., lr) to (p_new,
state_new...). Its Jacobian, by autograd through ravine's step, must match finite differences (gradcheck), and
must be the Jacobian of torch's own ``differentiable=True`` step. torch computes Adam-style bias corrections from
its float32 step counter when differentiable, so the two agree to float32 rounding there (``JAC_TOL``); ravine's
differentiable step is its ordinary step, bit for bit.
"""

from __future__ import annotations

import pytest
import torch

import ravine
from trajectories import CASES

NAMES = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam", "Adamax", "RAdam", "ASGD", "Rprop"]
FLAGGED = {name: CASES[name][-2] for name in NAMES}  # a case with non-default options
JAC_TOL = 1e-6


def _state_after(name: str, kwargs: dict, p0: torch.Tensor, g0: torch.Tensor) -> dict:
    """The state torch's optimiser has after 3 steps from p0 with gradients near g0 (realistic, non-zero)."""
    p = p0.detach().clone().requires_grad_()
    opt = getattr(torch.optim, name)([p], **kwargs)
    for i in range(3):
        p.grad = g0 * (1 + 0.3 * i)
        opt.step()
    return {k: v.detach().clone() for k, v in opt.state[p].items()}


def _inputs(name: str, kwargs: dict) -> tuple[list[str], list[torch.Tensor], dict]:
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(5, generator=gen, dtype=torch.float64)
    g0 = torch.randn(5, generator=gen, dtype=torch.float64)
    # shifted away from 0, where sqrt and max have kinks that finite differences would straddle
    # (non-negative state only: a signed one, like RMSprop's grad_avg, keeps its small value)
    state = _state_after(name, kwargs, p0, g0)
    state = {k: v + 0.5 + torch.rand(v.shape, generator=gen, dtype=v.dtype) if v.dim() and (v >= 0).all() else v
             for k, v in state.items()}  # fmt: skip
    # Continuous state is an input; the step counter (and 0-dim schedules like ASGD's eta, mu) are not.
    keys = [k for k, v in state.items() if v.dim() > 0]
    inputs = [p0, g0 * 0.7, *(state[k] for k in keys)]
    return keys, [x.clone().requires_grad_() for x in inputs], state


def _step_fn(lib, name: str, kwargs: dict, keys: list[str], state: dict):
    def f(p, grad, lr, *values):
        p = p.clone()  # a non-leaf: the step writes into it, as torch's own test does
        p.grad = grad
        opt = getattr(lib, name)([p], **{**kwargs, "lr": lr}, differentiable=True)
        opt.state[p].update({k: v.clone() for k, v in state.items()})
        opt.state[p].update({k: v.clone() for k, v in zip(keys, values, strict=True)})
        opt.step()
        return (p, *(opt.state[p][k] for k in keys))

    return f


@pytest.mark.parametrize("name", NAMES)
def test_step_passes_gradcheck_with_a_tensor_learning_rate(name: str) -> None:
    kwargs = {k: v for k, v in FLAGGED[name].items() if k != "lr"}
    lr = torch.tensor(FLAGGED[name].get("lr", 0.01), dtype=torch.float64, requires_grad=True)
    keys, inputs, state = _inputs(name, kwargs)
    args = (inputs[0], inputs[1], lr, *inputs[2:])
    ours = _step_fn(ravine.optim, name, kwargs, keys, state)
    assert torch.autograd.gradcheck(ours, args, eps=1e-6, atol=1e-6, rtol=1e-5)
    # the gradient reaches every input, the learning rate included -- except in Rprop and ASGD, whose lr only
    # sets state (the initial step sizes, the next eta), not this step
    grads = torch.autograd.grad(ours(*args)[0].sum(), args, allow_unused=True)
    assert grads[0] is not None and grads[1] is not None
    assert (grads[2] is None) == (name in ("Rprop", "ASGD"))


@pytest.mark.parametrize("name", NAMES)
def test_step_has_the_jacobian_of_torchs_differentiable_step(name: str) -> None:
    """torch's own differentiable step as the reference (a float lr: torch takes a tensor lr requiring grad only
    in some optimisers). Under a float64 default dtype torch keeps its step counter in float64, so both compute
    the bias corrections in double precision."""
    kwargs = {k: v for k, v in FLAGGED[name].items() if k != "lr"}
    lr = FLAGGED[name].get("lr", 0.01)
    keys, inputs, state = _inputs(name, kwargs)
    args = (inputs[0], inputs[1], *inputs[2:])

    def fn(lib):
        step = _step_fn(lib, name, kwargs, keys, state)
        return lambda p, g, *values: step(p, g, lr, *values)

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        jac_ours = torch.autograd.functional.jacobian(fn(ravine.optim), args)
        jac_ref = torch.autograd.functional.jacobian(fn(torch.optim), args)
    finally:
        torch.set_default_dtype(default)
    for out_o, out_r in zip(jac_ours, jac_ref, strict=True):
        for a, b in zip(out_o, out_r, strict=True):
            assert torch.allclose(a, b, rtol=JAC_TOL, atol=JAC_TOL), name
    assert any(bool(a.abs().sum() > 0) for out in jac_ours for a in out)


@pytest.mark.parametrize("name", NAMES)
def test_differentiable_step_is_the_ordinary_step(name: str) -> None:
    """Out of the kernel and under autograd, the step computes the same numbers."""
    kwargs = FLAGGED[name]
    gen = torch.Generator().manual_seed(1)
    base = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    grads = [torch.randn(4, 3, generator=gen, dtype=torch.float64) for _ in range(5)]
    finals = []
    for diff in (False, True):
        leaf = base.clone().requires_grad_()
        p = leaf.clone() if diff else leaf  # differentiable steps write into a non-leaf, as in torch
        opt = getattr(ravine.optim, name)([p], **kwargs, differentiable=diff)
        for g in grads:
            p.grad = g
            opt.step()
        assert (p.grad_fn is not None) == diff
        finals.append(p.detach())
    assert torch.equal(finals[0], finals[1])


def _meta_loss(lib, lr: torch.Tensor, momentum: float) -> torch.Tensor:
    p = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True).clone()
    opt = lib.SGD([p], lr=lr, momentum=momentum, differentiable=True)
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    for _ in range(3):
        loss = ((x * p.sum() - 2.0) ** 2).sum()
        (g,) = torch.autograd.grad(loss, p, create_graph=True)
        p.grad = g
        opt.step()
    return ((x * p.sum() - 2.0) ** 2).sum()


def test_meta_gradient_of_the_learning_rate_matches_torch() -> None:
    """A hyperparameter gradient through three steps, as torch's multi-step test computes it: the loss reads the
    parameters through their sum, so no value autograd saved is overwritten by the steps; d loss / d lr. Plain
    SGD: with momentum, torch's own step overwrites the buffer autograd saved for d/d lr (an autograd error)."""
    grads = []
    for lib in (ravine.optim, torch.optim):
        lr = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
        grads.append(torch.autograd.grad(_meta_loss(lib, lr, 0.0), lr)[0])
    assert grads[0] != 0 and torch.allclose(grads[0], grads[1], rtol=1e-12, atol=0)


def test_meta_gradient_through_momentum_passes_gradcheck() -> None:
    lr = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda lr: _meta_loss(ravine.optim, lr, 0.9), (lr,))


def test_fused_kernel_and_differentiable_exclude_each_other_as_in_torch() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    for lib in (torch.optim, ravine.optim):
        with pytest.raises(RuntimeError, match="`fused` does not support `differentiable`"):
            lib.Adam(p, fused=True, differentiable=True)


def test_a_leaf_parameter_cannot_take_a_differentiable_step_as_in_torch() -> None:
    for lib in (torch.optim, ravine.optim):
        p = torch.nn.Parameter(torch.ones(3))
        opt = lib.Adam([p], differentiable=True)
        p.grad = torch.ones(3)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            opt.step()


def test_any_rule_chain_takes_a_differentiable_step() -> None:
    """Not only the torch-named classes: any ravine.optim.Optimizer made of rules (Adam's moments with decoupled
    decay here) takes a differentiable step that passes gradcheck."""
    chain = ravine.chain(ravine.rules.flip_sign(), ravine.rules.scale_by_adam(), ravine.rules.add_decayed_weights())
    gen = torch.Generator().manual_seed(2)
    p0, g0 = (torch.randn(4, generator=gen, dtype=torch.float64).requires_grad_() for _ in range(2))

    def f(p, grad, lr):
        p = p.clone()
        p.grad = grad
        opt = ravine.optim.Optimizer([p], chain, lr=lr, weight_decay=0.1, differentiable=True)
        opt.step()
        return p

    lr = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (p0, g0, lr))
