"""Numerics presets against the libraries they name: optax on JAX's CPU build, Keras 3 on its torch backend.

Each case runs 200 float32 steps of the same problem (``beyond_refs``: held-out shapes) in ravine with
``numerics=<lib>`` and in the library itself; gradients are computed by torch from the parameters each side holds,
so only the optimisers' arithmetic differs. The libraries round differently (float32 bias corrections, rsqrt, a
different order of operations), so trajectories are compared to ``tol = steps * 4 * eps_f32`` relative (9.5e-5
at 200 steps): every step may differ by a few roundings, and on this problem (far from its minimum) differences
add up at most linearly. Each case also shows the check can fail: the *torch* preset run misses the library's
trajectory by more than 3x tol where the conventions differ. 200 steps with ``--full``, 50 by default (CI).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch

import ravine
from beyond_refs import need, problem
from trajectories import loss_fn, rel_error

STEPS = 200
EPS32 = float(torch.finfo(torch.float32).eps)
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture
def steps(full: bool) -> int:
    return STEPS if full else 50


def _grads(values: list[np.ndarray], data: list) -> list[np.ndarray]:
    params = [torch.tensor(np.asarray(v), dtype=torch.float32, requires_grad=True) for v in values]
    loss_fn(params, data).backward()
    return [p.grad.numpy().copy() for p in params]


def run_ravine(cls: Any, kwargs: dict, steps: int) -> list[torch.Tensor]:
    init, data = problem(torch.float32)
    params = [p.clone().requires_grad_() for p in init]
    opt = cls(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(params, data).backward()
        opt.step()
    return [p.detach() for p in params]


def run_optax(make: Any, steps: int) -> list[torch.Tensor]:
    jnp = need("jax.numpy")
    optax = need("optax")
    init, data = problem(torch.float32)
    params = [jnp.asarray(p.numpy()) for p in init]
    tx = make(optax)
    state = tx.init(params)
    for _ in range(steps):
        grads = [jnp.asarray(g) for g in _grads(params, data)]
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return [torch.tensor(np.asarray(p)) for p in params]


def _keras() -> Any:
    if "keras" not in __import__("sys").modules:
        os.environ["KERAS_BACKEND"] = "torch"
    keras = need("keras")
    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend; these checks need torch's")
    return keras


def run_keras(make: Any, steps: int) -> list[torch.Tensor]:
    keras = _keras()
    init, data = problem(torch.float32)
    variables = [keras.Variable(p.numpy(), dtype="float32") for p in init]
    opt = make(keras.optimizers)
    for _ in range(steps):
        grads = _grads([keras.ops.convert_to_numpy(v) for v in variables], data)
        opt.apply_gradients([(torch.tensor(g), v) for g, v in zip(grads, variables, strict=True)])
    return [torch.tensor(keras.ops.convert_to_numpy(v)) for v in variables]


# (ravine class, ravine kwargs without numerics, the library's optimiser, does torch's preset differ?)
OPTAX = {
    "adam": (ravine.optim.Adam, {"lr": 0.01}, lambda o: o.adam(0.01), False),
    "adam-eps": (
        ravine.optim.Adam,
        {"lr": 0.01, "eps": 1e-3, "betas": (0.8, 0.99)},
        lambda o: o.adam(0.01, 0.8, 0.99, 1e-3),
        False,
    ),
    "adamw": (ravine.optim.AdamW, {"lr": 0.01}, lambda o: o.adamw(0.01), True),
    "sgd-nesterov": (
        ravine.optim.SGD,
        {"lr": 0.02, "momentum": 0.9, "nesterov": True},
        lambda o: o.sgd(0.02, momentum=0.9, nesterov=True),
        False,
    ),
    "rmsprop": (ravine.optim.RMSprop, {"lr": 0.01, "eps": 1.0}, lambda o: o.rmsprop(0.01, eps=1.0), True),
    "rmsprop-centered-momentum": (
        ravine.optim.RMSprop,
        {"lr": 0.003, "centered": True, "momentum": 0.9},
        lambda o: o.rmsprop(0.003, centered=True, momentum=0.9),
        True,
    ),
    "adagrad": (ravine.optim.Adagrad, {"lr": 0.1}, lambda o: o.adagrad(0.1), True),
    "lamb": (ravine.optim.LAMB, {"lr": 0.005, "weight_decay": 0.01}, lambda o: o.lamb(0.005, weight_decay=0.01), None),
}

KERAS = {
    "adam": (ravine.optim.Adam, {"lr": 0.01, "eps": 1e-1}, lambda k: k.Adam(0.01, epsilon=1e-1), True),
    "adam-amsgrad": (
        ravine.optim.Adam,
        {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.99)},
        lambda k: k.Adam(0.01, beta_1=0.8, beta_2=0.99, amsgrad=True),
        False,
    ),
    "adamw": (
        ravine.optim.AdamW,
        {"lr": 0.01, "weight_decay": 0.05, "eps": 1e-2},
        lambda k: k.AdamW(0.01, weight_decay=0.05, epsilon=1e-2),
        True,
    ),
    "sgd-momentum": (ravine.optim.SGD, {"lr": 0.02, "momentum": 0.9}, lambda k: k.SGD(0.02, momentum=0.9), False),
    "sgd-nesterov": (
        ravine.optim.SGD,
        {"lr": 0.02, "momentum": 0.8, "nesterov": True},
        lambda k: k.SGD(0.02, momentum=0.8, nesterov=True),
        False,
    ),
    "rmsprop-momentum": (
        ravine.optim.RMSprop,
        {"lr": 0.003, "momentum": 0.9, "eps": 1.0},
        lambda k: k.RMSprop(0.003, momentum=0.9, epsilon=1.0),
        True,
    ),
    "rmsprop-centered": (
        ravine.optim.RMSprop,
        {"lr": 0.01, "centered": True},
        lambda k: k.RMSprop(0.01, centered=True),
        True,
    ),
    "adagrad": (ravine.optim.Adagrad, {"lr": 0.1}, lambda k: k.Adagrad(0.1), True),
}


def _check(ours: list, theirs: list, torch_preset: list | None, differs: bool | None, steps: int) -> None:
    tol = steps * 4 * EPS32
    assert rel_error(ours, theirs) <= tol
    init, _ = problem(torch.float32)
    assert rel_error(theirs, init) > 1e-2  # the run went somewhere
    if differs:
        assert rel_error(torch_preset, theirs) > 3 * tol  # the convention matters, and the test sees it


@pytest.mark.parametrize("case", list(OPTAX))
def test_optax_preset(case: str, steps: int) -> None:
    cls, kw, make, differs = OPTAX[case]
    theirs = run_optax(make, steps)
    extra = {} if cls is ravine.optim.LAMB else {"numerics": "optax"}
    ours = run_ravine(cls, {**kw, **extra}, steps)
    _check(ours, theirs, run_ravine(cls, kw, steps) if differs else None, differs, steps)


@pytest.mark.parametrize("case", list(KERAS))
def test_keras_preset(case: str, steps: int) -> None:
    cls, kw, make, differs = KERAS[case]
    theirs = run_keras(make, steps)
    ours = run_ravine(cls, {**kw, "numerics": "keras"}, steps)
    _check(ours, theirs, run_ravine(cls, kw, steps) if differs else None, differs, steps)


def test_keras_lr_in_buffer_differs_once_lr_changes(steps: int) -> None:
    """Same run at a constant lr; after the lr drops 10x, Keras's buffer still holds steps of the old size."""
    keras = _keras()
    tol = steps * 4 * EPS32
    init, data = problem(torch.float32)
    variables = [keras.Variable(p.numpy(), dtype="float32") for p in init]
    kopt = keras.optimizers.SGD(0.02, momentum=0.9)
    params = [p.clone().requires_grad_() for p in init]
    ropt = ravine.optim.SGD(params, lr=0.02, momentum=0.9, numerics="keras")
    tref = [p.clone().requires_grad_() for p in init]
    topt = ravine.optim.SGD(tref, lr=0.02, momentum=0.9)
    for t in range(steps):
        if t == 10:
            kopt.learning_rate.assign(0.002)
            ropt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 0.002
        grads = _grads([keras.ops.convert_to_numpy(v) for v in variables], data)
        kopt.apply_gradients([(torch.tensor(g), v) for g, v in zip(grads, variables, strict=True)])
        for ps, o in ((params, ropt), (tref, topt)):
            o.zero_grad()
            loss_fn(ps, data).backward()
            o.step()
    theirs = [torch.tensor(keras.ops.convert_to_numpy(v)) for v in variables]
    assert rel_error([p.detach() for p in params], theirs) <= tol
    assert rel_error([p.detach() for p in tref], theirs) > 3 * tol


def test_presets_are_arguments_of_the_same_rules() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    k = ravine.optim.Adam(p, numerics="keras")
    assert k.param_groups[0]["eps"] == 1e-7 and k.param_groups[0]["decoupled_weight_decay"] is True
    assert ravine.optim.Adam(p, numerics="keras", eps=1e-3).param_groups[0]["eps"] == 1e-3
    assert ravine.optim.AdamW(p, numerics="optax").param_groups[0]["weight_decay"] == 1e-4
    assert ravine.optim.Adagrad(p, numerics="optax").param_groups[0]["initial_accumulator_value"] == 0.1
    assert ravine.optim.RMSprop(p).param_groups[0]["alpha"] == 0.99
    with pytest.raises(ValueError, match="numerics must be one of 'torch', 'optax', 'keras'"):
        ravine.optim.SGD(p, numerics="jax")
    with pytest.raises(ValueError, match="weight_decay with numerics='keras'"):
        ravine.optim.SGD(p, lr=0.1, weight_decay=0.1, numerics="keras")
