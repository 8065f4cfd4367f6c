"""Parity with torch.optim.lr_scheduler over 1,000 steps.

Two references for each torch scheduler:

* what torch's scheduler actually sets, stepping by its recursive ("chainable") formula: agreement to 1e-12
  relative (the recursion drifts from the closed form by up to ~1e-14 relative over 1,000 steps);
* torch's closed form (``_get_closed_form_lr``, what ``step(epoch)`` uses): bit for bit where ravine writes the
  same expression (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, PolynomialLR, LinearLR as a warm-up);
  1e-13 relative for ``linear``, which takes absolute ends (LinearLR factors) and interpolates from the nearer
  end: torch's closed form loses up to ~4e-14 to cancellation near the end of a decay to 0, ravine's stays
  within an ulp (test_closed_form.py::test_linear_is_accurate_to_an_ulp).

OneCycleLR is closed form in torch: bit for bit, learning rate and momentum / beta1. ReduceLROnPlateau: bit
for bit on the same metric sequence, as a schedule and driving an optimiser.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

import ravine
from ravine.schedules import (
    ReduceOnPlateau,
    ScheduleLR,
    constant,
    cosine,
    exponential,
    join,
    linear,
    multistep,
    one_cycle,
    polynomial,
    step_decay,
    warmup,
)

N = 1000
BASE = 0.1


def _optimizer(cls=torch.optim.SGD, **kw):
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.zeros(2)
    return cls([p], lr=BASE, **kw)


def torch_recursive(make, n=N, cls=torch.optim.SGD, key=None, **kw):
    """The lr (and optionally another group value) torch uses at steps 0..n-1, stepping the scheduler."""
    opt = _optimizer(cls, **kw)
    sched = make(opt)
    lrs, other = [], []
    for _ in range(n):
        g = opt.param_groups[0]
        lrs.append(g["lr"])
        if key == "momentum":
            other.append(g["momentum"])
        elif key == "beta1":
            other.append(g["betas"][0])
        opt.step()
        sched.step()
    return lrs, other


def torch_closed(make, n=N):
    opt = _optimizer()
    sched = make(opt)
    out = []
    for k in range(n):
        sched.last_epoch = k
        out.append(sched._get_closed_form_lr()[0])
    return out


def max_rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


# (id, torch scheduler, ravine schedule, bit for bit with torch's closed form)
CASES = [
    ("StepLR", lambda o: L.StepLR(o, 30), step_decay(BASE, 30), True),
    ("StepLR-0.9", lambda o: L.StepLR(o, 7, gamma=0.9), step_decay(BASE, 7, gamma=0.9), True),
    ("MultiStepLR", lambda o: L.MultiStepLR(o, [100, 300, 700], 0.3), multistep(BASE, [100, 300, 700], 0.3), True),
    ("ExponentialLR", lambda o: L.ExponentialLR(o, 0.997), exponential(BASE, 0.997), True),
    ("CosineAnnealingLR", lambda o: L.CosineAnnealingLR(o, N), cosine(BASE, N), True),
    ("CosineAnnealingLR-min", lambda o: L.CosineAnnealingLR(o, N, 1e-4), cosine(BASE, N, 1e-4), True),
    ("LinearLR-up", lambda o: L.LinearLR(o, 0.01, 1.0, 400), linear(BASE * 0.01, BASE, 400), False),
    ("LinearLR-down", lambda o: L.LinearLR(o, 1.0, 0.0, N), linear(BASE, 0.0, N), False),
    ("LinearLR-warmup", lambda o: L.LinearLR(o, 0.25, 1.0, 300), warmup(constant(BASE), 300, 0.25), True),
    ("PolynomialLR", lambda o: L.PolynomialLR(o, N, 2.0), polynomial(BASE, N, 2.0), True),
    ("PolynomialLR-0.9", lambda o: L.PolynomialLR(o, 700, 0.9), polynomial(BASE, 700, 0.9), True),
]


@pytest.mark.parametrize(("torch_sched", "ours", "bitwise"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parity_with_torch(torch_sched, ours, bitwise):
    values = [ours(k) for k in range(N)]
    lrs, _ = torch_recursive(torch_sched)
    assert max_rel(values, lrs) <= 1e-12
    closed = torch_closed(torch_sched)
    if bitwise:
        assert values == closed
    else:
        assert max_rel(values, closed) <= 1e-13


def test_cosine_stays_at_min_lr_where_torch_turns_back():
    """A documented difference: torch's CosineAnnealingLR is periodic (period 2 T_max); cosine holds min_lr."""
    T = 300
    lrs, _ = torch_recursive(lambda o: L.CosineAnnealingLR(o, T, 1e-4), 2 * T + 1)
    ours = cosine(BASE, T, 1e-4)
    assert max_rel([ours(k) for k in range(T + 1)], lrs[: T + 1]) <= 1e-12
    assert lrs[2 * T] == pytest.approx(BASE, rel=1e-12) and ours(2 * T) == 1e-4


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"pct_start": 0.25, "anneal_strategy": "linear"},
        {"three_phase": True},
        {"pct_start": 0.1, "div_factor": 10.0, "final_div_factor": 100.0, "base_momentum": 0.8, "max_momentum": 0.9},
    ],
    ids=["default", "linear", "three_phase", "custom"],
)
@pytest.mark.parametrize(("cls", "key"), [(torch.optim.SGD, "momentum"), (torch.optim.Adam, "beta1")])
def test_one_cycle_parity(kw, cls, key):
    T = 999  # pct_start * T is not an integer: the phase ends fall between steps
    extra = {"momentum": 0.9} if cls is torch.optim.SGD else {}
    lrs, moms = torch_recursive(lambda o: L.OneCycleLR(o, max_lr=0.8, total_steps=T, **kw), T, cls, key, **extra)
    oc = one_cycle(0.8, T, **kw)
    assert [oc(k) for k in range(T)] == lrs
    assert [oc.momentum(k) for k in range(T)] == moms


@pytest.mark.parametrize(("cls", "key"), [(torch.optim.SGD, "momentum"), (torch.optim.Adam, "beta1")])
def test_one_cycle_through_schedule_lr(cls, key):
    """ScheduleLR(opt, oc, momentum=oc.momentum) sets what OneCycleLR sets, bit for bit."""
    T = 300
    extra = {"momentum": 0.9} if cls is torch.optim.SGD else {}
    ref, ref_m = torch_recursive(lambda o: L.OneCycleLR(o, max_lr=0.8, total_steps=T), T, cls, key, **extra)
    oc = one_cycle(0.8, T)
    got, got_m = torch_recursive(lambda o: ScheduleLR(o, oc, momentum=oc.momentum), T, cls, key, **extra)
    assert got == ref and got_m == ref_m


def test_warmup_cosine_and_join_match_sequential_lr():
    """torch's SequentialLR starts each scheduler from its own step 0 at a milestone, as join and warmup do."""
    W, T = 100, 900
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's constructor steps its sub-schedulers
        lrs, _ = torch_recursive(
            lambda o: L.SequentialLR(o, [L.LinearLR(o, 0.1, 1.0, W), L.CosineAnnealingLR(o, T, 1e-4)], milestones=[W])
        )
        lrs3, _ = torch_recursive(
            lambda o: L.SequentialLR(
                o,
                [L.LinearLR(o, 0.1, 1.0, W), L.ExponentialLR(o, 1.0), L.ExponentialLR(o, 0.99)],
                milestones=[W, 400],
            )
        )
    ours = warmup(cosine(BASE, T, 1e-4), W, start_factor=0.1)
    assert max_rel([ours(k) for k in range(N)], lrs) <= 1e-12
    ours3 = join([warmup(constant(BASE), W, 0.1), constant(BASE), exponential(BASE, 0.99)], [W, 400])
    # the first part of join is itself a warm-up of W steps into a constant; it ends at the first boundary
    assert max_rel([ours3(k) for k in range(N)], lrs3) <= 1e-12


# -- ReduceLROnPlateau ------------------------------------------------------------------------------------------
def _metrics(seed: int, n: int = N) -> list[float]:
    """A noisy loss that improves, stalls, and sometimes repeats a value exactly (ties are not improvements)."""
    rng = np.random.default_rng(seed)
    base = np.maximum(np.exp(-np.arange(n) / 150.0), 0.2) + rng.normal(0, 0.01, n)
    base[rng.integers(1, n, 40)] = base[0]
    return [float(x) for x in base]


PLATEAU = [
    {},
    {"patience": 0},
    {"patience": 3, "factor": 0.5, "cooldown": 2},
    {"threshold_mode": "abs", "threshold": 1e-3, "patience": 5},
    {"mode": "max", "patience": 4, "min_lr": 1e-3},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 2, "factor": 0.0},
    {"patience": 2, "factor": 0.9, "eps": 1e-3},
]


@pytest.mark.parametrize(
    "kw", PLATEAU, ids=[",".join(f"{k}={v}" for k, v in kw.items()) or "default" for kw in PLATEAU]
)
def test_plateau_parity(kw):
    metrics = _metrics(len(kw))
    if kw.get("mode") == "max":
        metrics = [-m for m in metrics]
    opt = _optimizer()
    ref = L.ReduceLROnPlateau(opt, **kw)
    ours = ReduceOnPlateau(BASE, **kw)
    for m in metrics:
        ref.step(m)
        got = ours.step(m)
        assert got == opt.param_groups[0]["lr"]
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
            ref.best,
            ref.num_bad_epochs,
            ref.cooldown_counter,
        )
    assert ours(0) == ours(10**6) == opt.param_groups[0]["lr"] < BASE  # it did reduce


def _train(make_opt, *, plateau_step, every=5, steps=120):
    """Linear regression in float64; a metric (the training loss) is reported every ``every`` steps."""
    torch.manual_seed(0)
    X, y = torch.randn(128, 6, dtype=torch.float64), torch.randn(128, dtype=torch.float64)
    w = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))
    opt, after_step = make_opt([w])
    lrs = []
    for k in range(steps):
        opt.zero_grad()
        loss = ((X @ w - y) ** 2).mean()
        loss.backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])  # the lr this step used: before a torch scheduler's step()
        after_step()
        if (k + 1) % every == 0:
            plateau_step(((X @ w - y) ** 2).mean().item())
    return lrs, w.detach().clone()


KW = {"patience": 2, "factor": 0.5}


def _torch_reference(opt_cls, **okw):
    box = {}

    def make(params):
        opt = opt_cls(params, lr=0.3, **okw)
        box["s"] = L.ReduceLROnPlateau(opt, **KW)
        return opt, lambda: None

    return _train(make, plateau_step=lambda m: box["s"].step(m))


@pytest.mark.parametrize("path", ["ravine lr=plateau", "ScheduleLR"])
def test_plateau_drives_an_optimiser_like_torch(path):
    """Same learning rates and parameters, bit for bit, as torch's ReduceLROnPlateau: a reduction reported
    between two steps takes effect at the next step, whichever way the plateau is attached."""
    plateau = ReduceOnPlateau(0.3, **KW)
    if path == "ScheduleLR":
        ref_lrs, ref_w = _torch_reference(torch.optim.SGD, momentum=0.9)

        def make(params):
            opt = torch.optim.SGD(params, lr=0.0, momentum=0.9)
            sched = ScheduleLR(opt, plateau)
            return opt, sched.step
    else:
        ref_lrs, ref_w = _torch_reference(ravine.optim.SGD, momentum=0.9, fused=False)

        def make(params):
            return ravine.optim.SGD(params, lr=plateau, momentum=0.9, fused=False), lambda: None

    lrs, w = _train(make, plateau_step=plateau.step)
    assert len(set(lrs)) > 2  # reductions happened
    assert lrs == ref_lrs and torch.equal(w, ref_w)
