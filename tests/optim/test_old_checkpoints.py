"""Checkpoints in the layout of older torch versions (back to 1.12) and of other libraries load and continue.

Such a checkpoint holds ``step`` (and ASGD's ``eta``/``mu``, NAdam's ``mu_product``) as Python numbers and lacks
the group switches added since (``maximize``, ``foreach``, ``differentiable``, ``capturable``, ``fused``,
``decoupled_weight_decay``). The old-style dict is made from a torch optimiser's own ``state_dict``; it is loaded
into torch's class (the reference) and into ravine's, and both run on: the trajectories must agree.
"""

from __future__ import annotations

import copy

import pytest
import torch

import ravine
from trajectories import CASES, NON_ELEMENTWISE, loss_fn, make_problem, rel_error, run

SWITCHES = ("maximize", "foreach", "differentiable", "capturable", "fused", "decoupled_weight_decay")
NUMBERS = ("step", "eta", "mu", "mu_product")  # 0-dim state that older versions kept as Python numbers
FIRST = {name: cases[0] for name, cases in CASES.items()}
# Muon (torch 2.9) keeps no step and its groups have none of the switches: it has no older layout.
FIRST["Adafactor"] = NON_ELEMENTWISE["Adafactor"][1][0]
SHAPES = {name: cases[0] for name, cases in NON_ELEMENTWISE.items()}


def _old_style(name: str, sd: dict, shapes: list | None = None) -> tuple[dict, list[str]]:
    """``sd`` with its 0-dim state as Python numbers and without every switch torch's loader fills in."""
    old = copy.deepcopy(sd)
    for st in old["state"].values():
        for k, v in list(st.items()):
            if k in NUMBERS:
                st[k] = float(v)
    dropped = []
    for k in SWITCHES:
        if k not in old["param_groups"][0]:
            continue
        probe = copy.deepcopy(sd)
        for g in probe["param_groups"]:
            del g[k]
        ref = getattr(torch.optim, name)([p.requires_grad_() for p in make_problem(torch.float64, shapes=shapes)[0]])
        try:
            ref.load_state_dict(probe)
        except KeyError:
            continue
        if k in ref.param_groups[0]:  # torch's loader knows the key may be missing
            dropped.append(k)
            for g in old["param_groups"]:
                del g[k]
    return old, dropped


@pytest.mark.parametrize("name", list(FIRST))
def test_old_style_checkpoint_continues_as_in_torch(name: str) -> None:
    kwargs, shapes = FIRST[name], SHAPES.get(name)
    mid, opt = run(getattr(torch.optim, name), kwargs, torch.float64, 10, shapes=shapes)
    old, dropped = _old_style(name, opt.state_dict(), shapes)
    assert dropped, name
    assert any(not isinstance(v, torch.Tensor) for st in old["state"].values() for v in st.values()) or name == "SGD"
    _, data = make_problem(torch.float64, shapes=shapes)
    finals = []
    for lib in (torch.optim, ravine.optim):
        params = [p.clone().requires_grad_() for p in mid]
        o = getattr(lib, name)(params)
        o.load_state_dict(copy.deepcopy(old))
        assert all(isinstance(v, torch.Tensor) for st in o.state.values() for k, v in st.items() if k == "step")
        for _ in range(15):
            o.zero_grad()
            loss_fn(params, data).backward()
            o.step()
        finals.append([p.detach() for p in params])
    assert rel_error(finals[1], finals[0]) <= 1e-12
    assert rel_error(finals[0], mid) > 1e-4  # the continued run moved


def test_asgd_and_nadam_scalars_saved_as_numbers_become_tensors() -> None:
    """torch <= 1.12 kept ASGD's eta and mu as Python floats; both loaders turn them into 0-dim tensors."""
    for name, keys in (("ASGD", ("eta", "mu")), ("NAdam", ("mu_product",))):
        mid, opt = run(getattr(torch.optim, name), {}, torch.float64, 3)
        old, _ = _old_style(name, opt.state_dict())
        o = getattr(ravine.optim, name)([p.requires_grad_() for p in mid])
        o.load_state_dict(old)
        for st in o.state.values():
            assert all(isinstance(st[k], torch.Tensor) and st[k].dim() == 0 for k in ("step", *keys))
