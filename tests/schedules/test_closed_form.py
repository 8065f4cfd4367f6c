"""Closed-form schedules against published formulas and constants; value semantics; bad input.

torch parity is in test_torch_parity.py; resuming in test_resume.py.
"""

from __future__ import annotations

import copy
import dataclasses
import doctest
import io
import itertools
import math
import pickle
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import ravine.schedules as S
from ravine.schedules import (
    ReduceOnPlateau,
    constant,
    cosine,
    exponential,
    inverse_sqrt,
    join,
    linear,
    multistep,
    one_cycle,
    polynomial,
    step_decay,
    warmup,
)


def close(a: float, b: float, rel: float = 1e-15) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


# -- published formulas and constants -------------------------------------------------------------------------
def test_resnet_multistep_constants():
    # He et al. (CVPR 2016), section 3.4: lr 0.1, divided by 10 at 32k and 48k iterations
    s = multistep(0.1, [32_000, 48_000])
    got = [s(k) for k in (0, 31_999, 32_000, 47_999, 48_000, 64_000)]
    assert got == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-15)


def test_googlenet_step_decay_constants():
    # Szegedy et al. (CVPR 2015), section 6: decrease by 4% every 8 epochs (one step per epoch here)
    s = step_decay(0.01, step_size=8, gamma=0.96)
    for epoch in range(0, 200, 7):
        assert close(s(epoch), 0.01 * 0.96 ** (epoch // 8))


def test_sgdr_cosine_shape():
    # Loshchilov & Hutter (ICLR 2017), eq. 5: half-way is the mean of the ends, and the curve is point-symmetric
    lr, lo, T = 0.4, 0.004, 1000
    s = cosine(lr, T, min_lr=lo)
    assert s(0) == lr and s(T) == lo and s(10 * T) == lo
    assert close(s(T // 2), (lr + lo) / 2)
    for k in range(0, T + 1, 37):
        assert abs(s(k) + s(T - k) - (lr + lo)) <= 4e-16 * lr


def test_adam_alpha_over_sqrt_t():
    # Kingma & Ba (ICLR 2015), section 4: alpha_t = alpha / sqrt(t), t = 1, 2, ...
    s = inverse_sqrt(1e-3)
    for t in (1, 2, 3, 10, 1000, 10**6):
        assert close(s(t - 1), 1e-3 / math.sqrt(t))


def test_transformer_schedule():
    # Vaswani et al. (NeurIPS 2017), eq. 3 with d_model = 512, warmup_steps = 4000; from the peak on
    d, W = 512, 4000

    def lrate(step_num: int) -> float:
        return d**-0.5 * min(step_num**-0.5, step_num * W**-1.5)

    s = warmup(inverse_sqrt(lrate(W), timescale=W), steps=W)
    for k in (W, W + 1, 5000, 10_000, 100_000):
        assert close(s(k), lrate(k), rel=4e-16)
    # during warm-up both rise linearly to the same peak (ravine counts from 0, the paper from 1)
    assert s(0) == 0.0 and close(s(W // 2), lrate(W) / 2)


def test_goyal_gradual_warmup_is_linear():
    # Goyal et al. (2017), section 2.2: increase by a constant amount each iteration, reaching the target at W
    target, W = 0.8, 25
    s = warmup(constant(target), steps=W, start_factor=0.1)
    steps = [s(k) for k in range(W + 1)]
    diffs = np.diff(steps)
    assert np.allclose(diffs, diffs[0], rtol=1e-12) and close(diffs[0], 0.9 * target / W, rel=1e-12)
    assert steps[0] == pytest.approx(0.1 * target, rel=1e-15) and steps[W] == target


def test_one_cycle_landmarks():
    # torch's OneCycleLR documentation: initial = max_lr / div_factor, final = initial / final_div_factor;
    # momentum is max_momentum at the start and base_momentum at the peak learning rate
    oc = one_cycle(0.5, total_steps=200, pct_start=0.25, div_factor=10.0, final_div_factor=100.0)
    peak = int(0.25 * 200) - 1
    # (torch's cosine anneal, end + (start - end) / 2 (1 + cos), lands within an ulp of the landmarks)
    assert [oc(0), oc(peak), oc(199)] == pytest.approx([0.05, 0.5, 0.05 / 100.0], rel=1e-15)
    assert [oc.momentum(0), oc.momentum(peak), oc.momentum(199)] == pytest.approx([0.95, 0.85, 0.95], rel=1e-15)
    assert oc(10_000) == oc(199) and oc.momentum(10_000) == oc.momentum(199)
    assert max(oc(k) for k in range(200)) == oc(peak)


def test_polynomial_power_one_is_linear_and_deeplab_poly():
    s, lin = polynomial(0.1, 100, power=1.0, end=0.001), linear(0.1, 0.001, 100)
    assert all(close(s(k), lin(k), rel=1e-14) for k in range(120))
    # Chen et al. (DeepLab, TPAMI 2018): lr (1 - iter / max_iter)^0.9
    poly = polynomial(0.007, 30_000, power=0.9)
    for it in (0, 1, 15_000, 29_999, 30_000):
        assert close(poly(it), 0.007 * (1 - it / 30_000) ** 0.9)


@pytest.mark.parametrize(("start", "end", "T"), [(0.1, 0.0, 1000), (0.1, 0.0, 997), (1e-3, 0.1, 400), (0.3, 0.2, 7)])
def test_linear_is_accurate_to_a_few_ulp(start, end, T):
    """Against exact rational arithmetic: within 4 ulp of the exact value everywhere, the tail of a decay to 0
    included, where interpolating from the start (torch's form) is off by hundreds of ulp."""
    s = linear(start, end, T)

    def ulps(v: float, t: int) -> float:
        exact = Fraction(start) + (Fraction(end) - Fraction(start)) * t / T
        return float(abs(Fraction(v) - exact) / Fraction(math.ulp(float(exact)))) if exact else abs(v)

    assert max(ulps(s(t), t) for t in range(T + 1)) <= 4
    if end == 0.0 and T >= 100:
        naive = max(ulps(start + (end - start) * t / T, t) for t in range(T))
        assert naive > 100


def test_warmup_is_a_join_with_a_linear_ramp():
    inner = cosine(0.3, 50, min_lr=0.01)
    a = warmup(inner, steps=10, start_factor=0.2)
    b = join([linear(0.2 * 0.3, 0.3, 10), inner], boundaries=[10])
    assert all(close(a(k), b(k), rel=1e-15) for k in range(80))
    assert [a(k) for k in range(10, 80)] == [inner(k) for k in range(70)]


def test_join_each_part_counts_from_zero():
    parts = [linear(0.0, 1.0, 4), exponential(1.0, 0.5), constant(0.2)]
    s = join(parts, boundaries=[4, 9])
    expected = [parts[0](k) for k in range(4)] + [parts[1](k) for k in range(5)] + [0.2] * 5
    assert [s(k) for k in range(14)] == expected
    assert join([cosine(1.0, 7)], [])(5) == cosine(1.0, 7)(5)


def test_values_helper():
    s = exponential(2.0, 0.5)
    assert S.values(s, 4) == [2.0, 1.0, 0.5, 0.25]
    assert S.values(s, [3, 1]) == [0.25, 1.0]


# -- value semantics: every schedule ----------------------------------------------------------------------------
def test_value_semantics(example):
    s = example()
    assert s == example() and s is not example()
    assert pickle.loads(pickle.dumps(s)) == s and copy.deepcopy(s) == s
    assert eval(repr(s), vars(S)) == s  # repr is the constructor call
    for k in range(0, 60, 3):
        v = s(k)
        assert type(v) is float and math.isfinite(v) and v >= 0
    if not s.stateful:
        hash(s)
        field = dataclasses.fields(s)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(s, field, 1.0)


def test_weights_only_checkpoint(example):
    """Checkpoints holding schedules load with torch.load's default weights_only=True."""
    s = example()
    buf = io.BytesIO()
    torch.save({"param_groups": [{"schedules": {"lr": s}}]}, buf)
    buf.seek(0)
    assert torch.load(buf)["param_groups"][0]["schedules"]["lr"] == s


def test_constant_after_horizon(example):
    s = example()
    h = s.horizon
    if h is None:
        assert not isinstance(s, (constant, cosine, linear, polynomial, multistep, one_cycle))
        return
    assert s(h) == s(h + 1) == s(h + 1000)
    if h > 0:
        assert any(s(k) != s(h) for k in range(h))  # and the horizon is not later than needed


@pytest.mark.parametrize("step", [np.int64(3), torch.tensor(3), 3])
def test_integer_like_steps(step):
    assert cosine(1.0, 10)(step) == cosine(1.0, 10)(3)


@pytest.mark.parametrize("step", [-1, 1.5, True, "3", None, torch.tensor(1.0)])
def test_bad_steps(step):
    with pytest.raises(ValueError, match="step must be an integer >= 0"):
        cosine(1.0, 10)(step)


# -- bad input: ValueError naming the argument -----------------------------------------------------------------
BAD = [
    (lambda: constant(-0.1), "lr"),
    (lambda: constant(float("nan")), "lr"),
    (lambda: constant("0.1"), "lr"),
    (lambda: step_decay(0.1, 0), "step_size"),
    (lambda: step_decay(0.1, 2.5), "step_size"),
    (lambda: step_decay(0.1, 10, gamma=1.5), "gamma"),
    (lambda: multistep(0.1, [30, 20]), "milestones must be strictly increasing"),
    (lambda: multistep(0.1, [10, 10]), "milestones must be strictly increasing"),
    (lambda: multistep(0.1, [0, 10]), r"milestones\[0\]"),
    (lambda: multistep(0.1, 10), "milestones"),
    (lambda: exponential(0.1, 0.0), "gamma"),
    (lambda: exponential(0.1, float("inf")), "gamma"),
    (lambda: cosine(0.1, 0), "total_steps"),
    (lambda: cosine(0.1, -5), "total_steps"),
    (lambda: cosine(0.1, 10, min_lr=0.2), "min_lr"),
    (lambda: linear(-1.0, 0.1, 10), "start"),
    (lambda: linear(0.0, 0.1, 0), "total_steps"),
    (lambda: polynomial(0.1, 10, power=0.0), "power"),
    (lambda: polynomial(0.1, 10, end=0.5), "end"),
    (lambda: inverse_sqrt(0.1, timescale=0), "timescale"),
    (lambda: warmup(lambda k: 0.1, 5), "schedule"),
    (lambda: warmup(constant(0.1), -1), "steps"),
    (lambda: warmup(constant(0.1), 5, start_factor=1.5), "start_factor"),
    (lambda: join([], []), "schedules"),
    (lambda: join(constant(0.1), []), "schedules"),
    (lambda: join([constant(0.1), constant(0.2)], []), "boundaries"),
    (lambda: join([constant(0.1), constant(0.2), constant(0.3)], [10, 5]), "boundaries must be strictly"),
    (lambda: join([constant(0.1), constant(0.2)], [-3]), r"boundaries\[0\]"),
    (lambda: one_cycle(0.0, 100), "max_lr"),
    (lambda: one_cycle(0.1, 1), "total_steps"),
    (lambda: one_cycle(0.1, 100, pct_start=0.0), "pct_start"),
    (lambda: one_cycle(0.1, 100, pct_start=1.0), "pct_start"),
    (lambda: one_cycle(0.1, 3, pct_start=0.3), "pct_start"),  # the rise would be shorter than one step
    (lambda: one_cycle(0.1, 100, pct_start=0.6, three_phase=True), "pct_start"),  # warm-up longer than total
    (lambda: one_cycle(0.1, 100, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: one_cycle(0.1, 100, base_momentum=1.0), "base_momentum"),
    (lambda: one_cycle(0.1, 100, div_factor=0), "div_factor"),
    (lambda: one_cycle(0.1, 100, three_phase=1), "three_phase"),
    (lambda: ReduceOnPlateau(0.1, factor=1.0), "factor"),
    (lambda: ReduceOnPlateau(0.1, factor=2.0), "factor"),
    (lambda: ReduceOnPlateau(0.1, mode="minimum"), "mode"),
    (lambda: ReduceOnPlateau(0.1, threshold_mode="relative"), "threshold_mode"),
    (lambda: ReduceOnPlateau(0.1, patience=-1), "patience"),
    (lambda: ReduceOnPlateau(0.1, cooldown=0.5), "cooldown"),
    (lambda: ReduceOnPlateau(0.1, min_lr=-1e-3), "min_lr"),
    (lambda: ReduceOnPlateau(0.1, threshold=-1), "threshold"),
]


@pytest.mark.parametrize(("build", "name"), BAD, ids=[f"{i}-{n.split()[0]}" for i, (_, n) in enumerate(BAD)])
def test_bad_input_names_the_argument(build, name):
    with pytest.raises(ValueError, match=name):
        build()


def test_exponential_overflow_is_a_clear_error():
    with pytest.raises(ValueError, match="overflows a float at step 100000"):
        exponential(1.0, 1.1)(100_000)
    assert exponential(1.0, 0.9)(100_000) == 0.0  # underflow is the right answer


def test_docstring_examples_run():
    import ravine.optim.accumulate
    import ravine.schedules.base
    import ravine.schedules.combine
    import ravine.schedules.cycle
    import ravine.schedules.plateau
    import ravine.schedules.torch_lr

    mods = [S.base, S.combine, S.cycle, S.plateau, S.torch_lr, ravine.optim.accumulate]
    for mod in mods:
        failed, tried = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert failed == 0 and tried > 0, mod.__name__


# -- properties over random valid arguments ---------------------------------------------------------------------
lrs = st.floats(1e-6, 10.0)
totals = st.integers(1, 5000)
fractions = st.floats(0.0, 1.0)


@st.composite
def decays(draw):
    """A decaying schedule with random valid arguments, and its (low, high) bounds."""
    lr, T, f = draw(lrs), draw(totals), draw(fractions)
    kind = draw(st.sampled_from(["step", "multi", "exp", "cos", "lin", "poly", "rsqrt"]))
    if kind == "step":
        return step_decay(lr, draw(st.integers(1, 100)), draw(st.floats(0.01, 1.0))), 0.0, lr
    if kind == "multi":
        ms = sorted(set(draw(st.lists(st.integers(1, 5000), max_size=5))))
        return multistep(lr, ms, draw(st.floats(0.01, 1.0))), 0.0, lr
    if kind == "exp":
        return exponential(lr, draw(st.floats(0.5, 1.0))), 0.0, lr
    if kind == "cos":
        return cosine(lr, T, f * lr), f * lr, lr
    if kind == "lin":
        return linear(lr, f * lr, T), f * lr, lr
    if kind == "poly":
        return polynomial(lr, T, draw(st.floats(0.1, 5.0)), f * lr), f * lr, lr
    return inverse_sqrt(lr, draw(st.floats(0.1, 1e4))), 0.0, lr


@settings(max_examples=150, deadline=None, derandomize=True)
@given(decays(), st.lists(st.integers(0, 20_000), min_size=2, max_size=20))
def test_decays_are_monotone_and_bounded(case, steps):
    s, low, high = case
    vals = [s(k) for k in sorted(steps)]
    assert all(low * (1 - 1e-15) <= v <= high for v in vals)
    assert all(b <= a * (1 + 1e-15) for a, b in itertools.pairwise(vals))  # non-increasing, to rounding
    assert s(0) == pytest.approx(high, rel=1e-15)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    st.floats(1e-4, 1.0),
    st.integers(10, 3000),
    st.floats(0.05, 0.45),
    st.sampled_from(["cos", "linear"]),
    st.booleans(),
)
def test_one_cycle_stays_between_its_ends(max_lr, T, pct, strategy, three):
    assume(pct * T > 1)  # shorter rises are refused (test_bad_input_names_the_argument)
    oc = one_cycle(max_lr, T, pct_start=pct, anneal_strategy=strategy, three_phase=three)
    final = max_lr / 25.0 / 1e4
    for k in range(0, T + 5, max(1, T // 97)):
        # torch's anneal, start + (end - start) p, cancels near the final value: absolute error ~ ulp(max_lr)
        assert final - 4e-16 * max_lr <= oc(k) <= max_lr * (1 + 1e-15)
        assert 0.85 * (1 - 1e-12) <= oc.momentum(k) <= 0.95 * (1 + 1e-12)
