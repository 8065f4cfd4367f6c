"""The range test's loop: the rates it runs, where it stops, what it refuses; against closed forms (gradient
descent on a quadratic is stable exactly for lr < 2/L) and against torch-lr-finder on the same model and
batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import ravine
from ravine.lr_finder import Sweep, find_lr


class Quadratic(nn.Module):
    """f(theta) = 1/2 sum_i lambda_i theta_i^2, theta from ones; the model's output is the loss."""

    def __init__(self, eigenvalues: list[float]) -> None:
        super().__init__()
        self.register_buffer("lam", torch.tensor(eigenvalues, dtype=torch.float64))
        self.theta = nn.Parameter(torch.ones(len(eigenvalues), dtype=torch.float64))

    def forward(self, _: object = None) -> Tensor:
        return 0.5 * (self.lam * self.theta**2).sum()


def _quadratic_step(model: nn.Module, opt: torch.optim.Optimizer, batch: object) -> Tensor:
    opt.zero_grad()
    loss = model()
    loss.backward()
    opt.step()
    return loss.detach()


@pytest.mark.parametrize("L", [4.0, 50.0])
def test_gradient_descent_on_a_quadratic_turns_at_two_over_L(L: float) -> None:
    """f = L/2 theta^2: loss_{i+1} = (1 - lr_i L)^2 loss_i, so the loss falls while lr < 2/L and rises after. The
    sweep runs from 1.6/L (further below, a step near 1/L would crush the loss to rounding level) to 4/L in steps
    of a factor 1.024: the raw loss turns at the first rate above 2/L, the trend's minimum within one step of
    it, and the edge (the trend 5 % of the descent above its minimum) a few steps later."""
    model = Quadratic([L])
    sweep = Sweep(start=1.6 / L, end=4 / L, steps=40, smooth=0.0, stop_factor=None, skip_start=0, skip_end=0)
    res = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), None, [None], step=_quadratic_step, sweep=sweep)
    limit, step = 2 / L, (4 / 1.6) ** (1 / 39)
    raw = np.array(res.losses)
    first_rise = int(np.argmax(np.diff(raw) > 0))
    assert res.lrs[first_rise] > limit >= res.lrs[first_rise - 1]
    lowest = res.suggestions["minimum/10"].lr * 10
    assert limit / step <= lowest <= limit * step
    assert limit <= res.suggestions["edge"].lr <= limit * step**6


def test_the_divergence_stop_follows_two_over_L() -> None:
    """With the ratio stop on the raw loss (smooth=0), the sweep stops once the loss is 4x its best, which on the
    quadratic is a few steps past 2/L."""
    L = 8.0
    model = Quadratic([L])
    res = find_lr(model, torch.optim.SGD(model.parameters()), None, [None], step=_quadratic_step, start=1.6 / L,
                  end=4 / L, steps=40, smooth=0.0)  # fmt: skip
    assert res.stop == "diverged"
    assert 2 / L < res.lrs[-1] < 2 / L * 1.024**12


def test_exp_and_linear_rates() -> None:
    s = Sweep(start=1e-4, end=1.0, steps=5)
    assert s.lrs() == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0], rel=1e-12)
    assert Sweep(start=0.1, end=0.5, steps=5, mode="linear").lrs() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_the_optimizer_runs_each_rate_of_the_sweep() -> None:
    model = Quadratic([1.0])
    seen = []

    def step(model: nn.Module, opt: torch.optim.Optimizer, batch: object) -> Tensor:
        seen.append([g["lr"] for g in opt.param_groups])
        return _quadratic_step(model, opt, batch)

    opt = torch.optim.SGD([{"params": [model.theta], "lr": 0.3}], lr=0.1)
    res = find_lr(model, opt, None, [None], step=step, start=1e-3, end=1e-1, steps=10, stop_factor=None)
    assert [s[0] for s in seen] == list(res.lrs) == Sweep(start=1e-3, end=1e-1, steps=10).lrs()
    assert opt.param_groups[0]["lr"] == 0.3


def test_divergence_stop_and_non_finite_stop() -> None:
    model = Quadratic([1.0, 0.3])
    res = find_lr(model, torch.optim.SGD(model.parameters()), None, [None], step=_quadratic_step, end=100.0)
    best = min(res.smoothed)
    assert res.stop == "diverged" and res.diverged_at == len(res.lrs) - 1 < 99
    assert res.smoothed[-1] > 4 * best and all(s <= 4 * best for s in res.smoothed[:-1])
    calls = []

    def step(model: nn.Module, opt: torch.optim.Optimizer, batch: object) -> Tensor:
        calls.append(1)
        return torch.tensor(math.nan if len(calls) == 30 else 1.0 / len(calls))

    res = find_lr(model, torch.optim.SGD(model.parameters()), None, [None], step=step)
    assert res.stop == "non-finite" and len(res.lrs) == 30 and math.isnan(res.losses[-1])
    assert "valley" in res.suggestions or "edge" in res.suggestions  # the finite part still suggests


def test_stop_factor_none_runs_every_step() -> None:
    model = Quadratic([1.0])
    res = find_lr(model, torch.optim.SGD(model.parameters()), None, [None], step=_quadratic_step, steps=100,
                  stop_factor=None, end=1.9)  # fmt: skip
    assert res.stop == "completed" and len(res.lrs) == 100


# -- bad input: a ValueError that names the argument and its range -----------------------------------------------
def _model_opt() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = nn.Linear(3, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


BATCHES = [(torch.randn(4, 3), torch.tensor([0, 1, 0, 1]))]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 1.0, "end": 1.0}, "start must be < end"),
        ({"start": 2.0, "end": 1.0}, "start must be < end"),
        ({"start": 0.0}, "start must be a finite number > 0"),
        ({"start": math.nan}, "start must be a finite number > 0"),
        ({"end": math.inf}, "end must be a finite number > 0"),
        ({"steps": 1}, "steps must be an integer >= 2"),
        ({"steps": 10.0}, "steps must be an integer >= 2"),
        ({"mode": "log"}, "mode must be one of exp, linear"),
        ({"smooth": 1.0}, r"smooth must be a number in \[0, 1\)"),
        ({"stop_factor": 1.0}, "stop_factor must be a finite number > 1"),
        ({"stop_factor": math.inf}, "stop_factor must be a finite number > 1"),
        ({"stop_factor": True}, "stop_factor must be a finite number > 1"),
        ({"budget": 0}, "budget must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"rule": "best"}, "rule must be one of"),
        ({"skip_end": -1}, "skip_end must be an integer >= 0"),
        ({"seed": -1}, "seed must be an integer >= 0"),
    ],
)
def test_bad_settings(kwargs: dict, match: str) -> None:
    model, opt = _model_opt()
    with pytest.raises(ValueError, match=match):
        find_lr(model, opt, F.cross_entropy, BATCHES, **kwargs)


def test_bad_batches() -> None:
    model, opt = _model_opt()
    with pytest.raises(ValueError, match=r"batches is empty"):
        find_lr(model, opt, F.cross_entropy, [])
    with pytest.raises(ValueError, match=r"one-shot iterator"):
        find_lr(model, opt, F.cross_entropy, iter(BATCHES))
    with pytest.raises(ValueError, match=r"batches must yield \(inputs, targets"):
        find_lr(model, opt, F.cross_entropy, [torch.randn(4, 3)])
    with pytest.raises(ValueError, match=r"batches must be a re-iterable"):
        find_lr(model, opt, F.cross_entropy, 3)


def test_nan_loss_at_the_first_step() -> None:
    model, opt = _model_opt()
    with torch.no_grad():
        model.weight.fill_(math.nan)
    before = model.weight.clone()
    with pytest.raises(ValueError, match=r"the loss is nan at the first step \(lr=1e-07\)"):
        find_lr(model, opt, F.cross_entropy, BATCHES)
    assert torch.equal(model.weight.isnan(), before.isnan()) and opt.state == {}


@pytest.mark.parametrize("cls", [torch.optim.LBFGS, ravine.optim.LBFGS])
def test_closure_optimisers_are_refused(cls: type) -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"needs a closure in step.*L-BFGS.*does not apply"):
        find_lr(model, cls(model.parameters()), F.cross_entropy, BATCHES)


def test_other_refusals() -> None:
    model, opt = _model_opt()
    with pytest.raises(ValueError, match=r"model must be a torch\.nn\.Module"):
        find_lr(lambda x: x, opt, F.cross_entropy, BATCHES)
    with pytest.raises(ValueError, match=r"optimizer must be a torch.optim.Optimizer.*GradientAccumulation"):
        find_lr(model, ravine.optim.GradientAccumulation(opt, 2), F.cross_entropy, BATCHES)
    with pytest.raises(ValueError, match=r"does not hold any parameter of model"):
        find_lr(nn.Linear(3, 2), opt, F.cross_entropy, BATCHES)
    with pytest.raises(ValueError, match=r"loss_fn must be a callable"):
        find_lr(model, opt, None, BATCHES)
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar tensor"):
        find_lr(model, opt, lambda out, y: out, BATCHES)


def test_no_suggestion_explains_why() -> None:
    model = Quadratic([1.0])
    res = find_lr(model, torch.optim.SGD(model.parameters()), None, [None], step=_quadratic_step, start=100.0,
                  end=1e4, steps=50)  # fmt: skip
    assert len(res.lrs) == 2 and res.stop == "diverged" and res.suggestions == {}
    with pytest.raises(ValueError, match=r"the sweep stopped after .* lower start"):
        _ = res.lr


# -- torch-lr-finder (the package; test extra) as the outside reference ------------------------------------------
torch_lr_finder = pytest.importorskip("torch_lr_finder")


def _reference_run(smooth_f: float, num_iter: int = 60) -> tuple[list[float], list[float], nn.Module]:
    torch.manual_seed(0)
    x, y = torch.randn(512, 10), torch.randint(0, 3, (512,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64, shuffle=False)
    model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 3))
    opt = torch.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
    finder = torch_lr_finder.LRFinder(model, opt, nn.CrossEntropyLoss(), device="cpu")
    finder.range_test(loader, start_lr=1e-5, end_lr=10, num_iter=num_iter, smooth_f=smooth_f, diverge_th=1e9)
    finder.reset()
    return finder.history["lr"], finder.history["loss"], (model, opt, loader)  # type: ignore[return-value]


def test_same_rates_and_raw_losses_as_torch_lr_finder(capsys: pytest.CaptureFixture) -> None:
    """Same model, optimiser and batches, no smoothing: the same rates and the same raw losses, bit for bit."""
    lrs, losses, (model, opt, loader) = _reference_run(smooth_f=0.0)
    res = find_lr(model, opt, nn.CrossEntropyLoss(), loader, start=1e-5, end=10, steps=60, smooth=0.0,
                  stop_factor=None)  # fmt: skip
    assert list(res.lrs) == pytest.approx(lrs, rel=1e-13)
    assert list(res.losses) == losses


def test_smoothing_against_torch_lr_finder() -> None:
    """torch-lr-finder's smoothing (smooth_f = 1 - beta, started at the first loss) is
    ravine.lr_finder.smoothing.first_value; ravine's default, the debiased average, differs from it while the
    first loss still weighs in and agrees on a constant curve."""
    from ravine.lr_finder import smoothing

    _, raw, _ = _reference_run(smooth_f=0.0)
    _, theirs, _ = _reference_run(smooth_f=0.05)
    assert smoothing.first_value(raw, 0.95) == pytest.approx(theirs, rel=1e-12)
    ours = smoothing.debiased(raw, 0.95)
    # the weights of the debiased average, written out: s_i = sum_j (1-b) b^(i-j) l_j / (1 - b^(i+1))
    i = 20
    w = np.array([(1 - 0.95) * 0.95 ** (i - j) for j in range(i + 1)])
    assert ours[i] == pytest.approx(float(w @ np.array(raw[: i + 1]) / w.sum()), rel=1e-12)
    assert ours[0] == raw[0] and ours[i] != pytest.approx(theirs[i], rel=1e-6)
    assert smoothing.debiased([2.5] * 30, 0.98) == pytest.approx([2.5] * 30, rel=1e-14)
    assert smoothing.first_value([2.5] * 30, 0.98) == pytest.approx([2.5] * 30, rel=1e-14)
