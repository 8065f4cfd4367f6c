"""Activation statistics: "flat" is where autograd's derivative is below 1% of its maximum."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ravine.diagnose.hooks import ActivationMonitor, spec_for, unit_dim

SLOPE = 0.01
ACTIVATIONS = [
    nn.ReLU(),
    nn.ReLU6(),
    nn.GELU(),
    nn.SiLU(),
    nn.ELU(),
    nn.ELU(alpha=0.5),
    nn.CELU(2.0),
    nn.SELU(),
    nn.Softplus(),
    nn.Hardswish(),
    nn.Tanh(),
    nn.Sigmoid(),
    nn.Hardtanh(),
    nn.Hardsigmoid(),
    nn.Softsign(),
]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: type(a).__name__ + str(getattr(a, "alpha", "")))
def test_flat_region_is_where_the_derivative_is_below_one_percent_of_its_maximum(act: nn.Module) -> None:
    spec = spec_for(act)
    assert spec is not None
    x = torch.linspace(-40, 40, 20001, dtype=torch.float64, requires_grad=True)
    y = act(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    largest = slope.abs().max()
    flat = spec.flat(x.detach(), y.detach(), act, SLOPE)
    want = slope.abs() < SLOPE * largest
    if spec.family == "rectifier":  # rectifiers are judged on their lower tail only
        want &= x.detach() < 0
    if isinstance(act, nn.ReLU6):  # ReLU6 dies at the bottom; its top is not counted
        want &= x.detach() <= 0
    disagree = (flat != want).float().mean().item()
    assert disagree < 2e-3, f"{type(act).__name__}: flat region disagrees on {disagree:.2%} of the grid"


def test_leaky_activations_are_not_read() -> None:
    assert spec_for(nn.LeakyReLU()) is None and spec_for(nn.PReLU()) is None and spec_for(nn.Linear(2, 2)) is None


@pytest.mark.parametrize(("shape", "dim"), [((8, 5), 1), ((8, 3, 5), 2), ((8, 4, 6, 6), 1)])
def test_units_are_features_channels_or_the_last_dimension_of_sequences(shape: tuple[int, ...], dim: int) -> None:
    assert unit_dim(torch.zeros(shape)) == dim


def _monitor(model: nn.Module, window: int = 64) -> ActivationMonitor:
    mods = [(n, m, spec_for(m)) for n, m in model.named_modules() if spec_for(m) is not None]
    return ActivationMonitor(model, mods, SLOPE, window)  # type: ignore[arg-type]


def test_sparse_but_alive_units_are_not_dead_and_dead_ones_are() -> None:
    torch.manual_seed(0)
    relu = nn.ReLU()
    model = nn.Sequential(relu)
    mon = _monitor(model)
    mon.arm()
    x = torch.full((64, 10), -1.0)
    x[torch.arange(64), torch.arange(64) % 8] = 1.0  # units 0-7 fire on one input in eight; 8, 9 never
    model(x)
    mon.disarm()
    records, closed, _ = mon.collect()
    ((key, zero_fraction),) = records
    assert key == "0" and zero_fraction == pytest.approx(1 - 64 / 640)
    assert closed == [("0", "dead", pytest.approx(0.2))]


def test_a_module_used_twice_is_read_as_two_activations_and_errors_are_captured() -> None:
    act = nn.Tanh()
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, act, nn.Linear(4, 4), act)
    mon = _monitor(model)
    mon.arm()
    model(torch.randn(8, 4)).sum().backward()
    mon.disarm()
    records, _, errors = mon.collect()
    assert [k for k, _ in records] == ["1", "1#1"]
    assert sorted(k for k, _ in errors) == ["1", "1#1"] and all(v > 0 for _, v in errors)


def test_hooks_are_gone_after_disarm() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    mon = _monitor(model)
    mon.arm()
    assert model[1]._forward_hooks and model._forward_pre_hooks
    mon.disarm()
    assert not model[1]._forward_hooks and not model._forward_pre_hooks
