"""Bad input gets a ValueError that names the argument and its allowed range; edge cases behave like torch."""

from __future__ import annotations

import math

import pytest
import torch

import ravine
from ravine.optim import SGD, Adadelta, Adagrad, Adam, AdamW, NAdam, Optimizer, RMSprop

BAD = [
    (SGD, {"lr": -0.1}, "lr must be in [0, inf)"),
    (SGD, {"lr": math.nan}, "Invalid learning rate: nan (lr must be in [0, inf))"),
    (SGD, {"momentum": -0.5}, "momentum must be in [0, inf)"),
    (SGD, {"momentum": 0.9, "dampening": 1.5}, "dampening must be in [0, 1]"),
    (SGD, {"nesterov": True}, "nesterov=True requires momentum > 0 and dampening = 0"),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "nesterov=True requires"),
    (SGD, {"weight_decay": -1e-4}, "weight_decay must be in [0, inf)"),
    (SGD, {"fused": "yes"}, "fused must be None, True or False"),
    (Adam, {"betas": (1.0, 0.999)}, "betas[0] must be in [0, 1)"),
    (Adam, {"betas": (0.9, -0.1)}, "betas[1] must be in [0, 1)"),
    (Adam, {"betas": (0.9,)}, "betas must be a pair"),
    (Adam, {"eps": -1e-8}, "eps must be in [0, inf)"),
    (Adam, {"amsgrad": "yes"}, "amsgrad must be True or False"),
    (Adam, {"lr": torch.tensor([1e-3, 1e-3])}, "Tensor lr must be 1-element (lr must be a number or a 1-element"),
    (Adam, {"capturable": "yes"}, "capturable must be True or False"),
    (Adam, {"differentiable": "yes"}, "differentiable must be True or False"),
    (Adam, {"foreach": "yes"}, "foreach must be None, True or False"),
    (AdamW, {"weight_decay": -0.01}, "weight_decay must be in [0, inf)"),
    (NAdam, {"momentum_decay": -1.0}, "momentum_decay must be in [0, inf)"),
    (Adadelta, {"rho": 1.0}, "rho must be in [0, 1)"),
    (Adadelta, {"rho": -0.1}, "Invalid rho value: -0.1 (rho must be in [0, 1])"),
    (RMSprop, {"alpha": 1.0}, "alpha must be in [0, 1)"),
    (RMSprop, {"eps": -1.0}, "eps must be in [0, inf)"),
    (Adagrad, {"lr_decay": -0.1}, "lr_decay must be in [0, inf)"),
    (Adagrad, {"initial_accumulator_value": -0.1}, "initial_accumulator_value must be in [0, inf)"),
]


@pytest.mark.parametrize(("cls", "kwargs", "message"), BAD, ids=[f"{c.__name__}-{k}" for c, k, _ in BAD])
def test_bad_hyperparameters(cls: type, kwargs: dict, message: str) -> None:
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError) as err:
        cls([p], **kwargs)
    assert message in str(err.value)


def test_bad_group_is_refused_too() -> None:
    p, q = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = Adam([p])
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        opt.add_param_group({"params": [q], "betas": (0.9, 1.5)})


def test_unknown_hyperparameter_is_a_type_error() -> None:
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(TypeError, match="unknown hyperparameter"):
        Optimizer([p], ravine.chain(ravine.rules.scale_by_adam()), lr=1e-3, momentum=0.9)


@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("name", ["SGD", "Adam", "NAdam"])
def test_parameter_without_gradient_is_skipped_like_torch(name: str, fused: bool) -> None:
    a, b = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    ours = getattr(ravine.optim, name)([a, b], lr=0.1, fused=fused)
    a2, b2 = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(3))
    ref = getattr(torch.optim, name)([a2, b2], lr=0.1)
    for opt, x in ((ours, a), (ref, a2)):
        x.grad = torch.full((3,), 0.5)
        opt.step()
    assert torch.equal(b, torch.ones(3)) and len(ours.state[b]) == 0 and len(ref.state[b2]) == 0
    assert torch.allclose(a, a2, rtol=1e-6)
    assert ours.state[a]["step"].item() == 1


def test_closure_is_called_with_grad_and_its_loss_returned() -> None:
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = SGD([p], lr=0.1)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == pytest.approx(5.0)
    assert torch.allclose(p, torch.tensor([0.8, -1.6]))


def test_inplace_step_bumps_autograd_version_on_the_fused_path() -> None:
    """Code holding a tensor saved for backward must notice the update, as with torch's in-place ops."""
    p = torch.nn.Parameter(torch.ones(4))
    opt = SGD([p], lr=0.1, fused=True)
    y = (p * p).sum()  # saves p for backward
    p.grad = torch.ones(4)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
