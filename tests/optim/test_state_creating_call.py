"""torch.distributed.checkpoint creates an unstepped optimiser's state by one ``step()`` at lr 0 with zero
gradients (``torch.distributed.checkpoint.state_dict._init_optim_state``), and then loads exactly the keys that
state has. ravine's state after that call must have the keys torch's namesake has, including state whose shape
follows the tensor's (Adafactor's factored moments) and state a rule otherwise makes at the first step (Shampoo's
matrices), and no parameter may move."""

from __future__ import annotations

import pytest
import torch
from torch.distributed.checkpoint.state_dict import _init_optim_state

import ravine.optim as O


def _params() -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(shape, generator=g, dtype=torch.float64)) for shape in [(4, 3), (3,)]]


@pytest.mark.parametrize("name", ["Adafactor", "Adam", "Rprop", "Adamax", "RAdam"])
def test_keys_match_torchs_after_the_state_creating_call(name: str) -> None:
    mine, theirs = _params(), _params()
    ours, torchs = getattr(O, name)(mine, lr=0.01), getattr(torch.optim, name)(theirs, lr=0.01)
    _init_optim_state(ours)
    _init_optim_state(torchs)
    for p, q in zip(mine, theirs, strict=True):
        assert set(ours.state[p]) == set(torchs.state[q])
        for k, v in torchs.state[q].items():
            assert ours.state[p][k].shape == v.shape, k
        assert torch.equal(p, q)


def test_shampoo_matrices_exist_and_the_first_step_is_unchanged() -> None:
    """Shampoo has no torch namesake: its state after the call is what its first step starts from, and the
    first real step afterwards equals a first step without the call (momentum starts from the update)."""
    a, b = _params(), _params()
    plain, made = O.Shampoo(a, lr=0.1, momentum=0.9), O.Shampoo(b, lr=0.1, momentum=0.9)
    _init_optim_state(made)
    assert {"pre_cond_0", "inv_pre_cond_0", "pre_cond_1", "momentum_buffer"} <= set(made.state[b[0]])
    for ps, opt in [(a, plain), (b, made)]:
        for p in ps:
            p.grad = torch.ones_like(p) * 0.5
        opt.step()
    for p, q in zip(a, b, strict=True):
        assert torch.equal(p, q)
        for k in plain.state[p]:
            assert torch.equal(plain.state[p][k], made.state[q][k]), k


@pytest.mark.parametrize("name", ["ASGD", "Rprop"])
def test_state_made_at_lr_0_is_remade_at_the_groups_rate(name: str) -> None:
    """ASGD's eta and Rprop's step sizes start at lr: made during the call at lr 0, they are remade at the real
    rate before a state_dict() (what DCP saves) and before the first step, which then equals torch's first step
    without the call; state loaded afterwards is kept as loaded."""
    mine, theirs = _params(), _params()
    ours, torchs = getattr(O, name)(mine, lr=0.01), getattr(torch.optim, name)(theirs, lr=0.01)
    _init_optim_state(ours)
    key = {"ASGD": "eta", "Rprop": "step_size"}[name]
    saved = ours.state_dict()["state"][0][key]
    assert torch.all(saved == 0.01), saved
    for ps, opt in [(mine, ours), (theirs, torchs)]:
        for p in ps:
            p.grad = torch.full_like(p, 0.5)
        opt.step()
    for p, q in zip(mine, theirs, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-15, atol=0)
    fresh = getattr(O, name)(_params(), lr=0.01)
    _init_optim_state(fresh)
    sd = ours.state_dict()
    sd["state"][0][key] = sd["state"][0][key] * 3  # a value no init would make
    fresh.load_state_dict(sd)
    p0 = fresh.param_groups[0]["params"][0]
    fresh.state_dict()
    assert torch.equal(fresh.state[p0][key], sd["state"][0][key])
    for p in fresh.param_groups[0]["params"]:
        p.grad = torch.full_like(p, 0.5)
    fresh.step()  # after a load, nothing is remade: the loaded state steps on
    assert fresh.state[fresh.param_groups[0]["params"][0]]["step"] == 2
