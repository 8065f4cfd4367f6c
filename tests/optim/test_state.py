"""state_dict round trips: resume bit for bit, cast like torch, and move checkpoints between torch and ravine."""

from __future__ import annotations

import copy
import functools
import io

import pytest
import torch

import ravine
from trajectories import CASES, make_problem, rel_error, run

FLAGGED = {name: cases[-2] for name, cases in CASES.items()}  # one case per optimiser with non-default options


def _roundtrip(sd: dict) -> dict:
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


def _resumed(cls, kwargs: dict, dtype: torch.dtype, before: int, after: int) -> list[torch.Tensor]:
    """Run ``before`` steps, checkpoint, load into fresh parameters and a fresh optimiser, run ``after`` more."""
    mid, opt = run(cls, kwargs, dtype, before)
    sd = _roundtrip(opt.state_dict())
    _, data = make_problem(dtype)
    params = [p.clone().requires_grad_() for p in mid]
    fresh = cls(params, **{k: v for k, v in kwargs.items() if k in ("maximize",)})  # hyperparameters come from sd
    fresh.load_state_dict(sd)
    from trajectories import loss_fn

    for _ in range(after):
        fresh.zero_grad()
        loss_fn(params, data, -1.0 if kwargs.get("maximize") else 1.0).backward()
        fresh.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize("fused", [False, True], ids=["reference", "fused"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(FLAGGED))
def test_resume_is_bit_identical(name: str, dtype: torch.dtype, fused: bool) -> None:
    cls = functools.partial(getattr(ravine.optim, name), fused=fused)
    straight, _ = run(cls, FLAGGED[name], dtype, 77)
    resumed = _resumed(cls, FLAGGED[name], dtype, 37, 40)
    for a, b in zip(straight, resumed, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", list(FLAGGED))
def test_loading_casts_state_like_torch(name: str) -> None:
    """State saved from float64 parameters loads into float32 ones as float32; `step` keeps its dtype (torch)."""
    _, opt64 = run(getattr(ravine.optim, name), FLAGGED[name], torch.float64, 5)
    _, torch64 = run(getattr(torch.optim, name), FLAGGED[name], torch.float64, 5)
    init32, _ = make_problem(torch.float32)
    ours = getattr(ravine.optim, name)([p.requires_grad_() for p in init32])
    ours.load_state_dict(copy.deepcopy(opt64.state_dict()))
    init32b, _ = make_problem(torch.float32)
    ref = getattr(torch.optim, name)([p.requires_grad_() for p in init32b])
    ref.load_state_dict(copy.deepcopy(torch64.state_dict()))
    for st_ours, st_ref in zip(ours.state.values(), ref.state.values(), strict=True):
        for k, v in st_ref.items():
            if k == "mu_product":
                continue  # torch casts it to the parameter's dtype; ravine keeps the saved dtype (see below)
            assert st_ours[k].dtype == v.dtype and st_ours[k].device == v.device, k
    if name == "NAdam":
        # Keeping mu_product's saved dtype is what makes a resumed NAdam run continue bit for bit.
        assert all(st["mu_product"].dtype == torch.float32 for st in ours.state.values())


@pytest.mark.parametrize("direction", ["torch->ravine", "ravine->torch"])
@pytest.mark.parametrize("name", list(FLAGGED))
def test_checkpoints_move_between_torch_and_ravine(name: str, direction: str) -> None:
    """A checkpoint of one loads into the other and the run continues as if it had never switched."""
    kwargs = FLAGGED[name]
    src, dst = (torch.optim, ravine.optim) if direction == "torch->ravine" else (ravine.optim, torch.optim)
    mid, opt = run(getattr(src, name), kwargs, torch.float64, 30)
    straight, _ = run(getattr(src, name), kwargs, torch.float64, 60)
    _, data = make_problem(torch.float64)
    params = [p.clone().requires_grad_() for p in mid]
    other = getattr(dst, name)(params)
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    from trajectories import loss_fn

    for _ in range(30):
        other.zero_grad()
        loss_fn(params, data, -1.0 if kwargs.get("maximize") else 1.0).backward()
        other.step()
    assert rel_error([p.detach() for p in params], straight) <= 1e-12
