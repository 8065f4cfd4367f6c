"""Each detector on synthetic curves with a known answer, including the hard healthy cases of the issue."""

from __future__ import annotations

import numpy as np
import pytest

from ravine.diagnose import Trace, diagnose
from ravine.diagnose.detect import combine
from ravine.diagnose.findings import Finding

N = 600


def trace(loss: np.ndarray, **series: np.ndarray | tuple[np.ndarray, np.ndarray]) -> Trace:
    """A trace with ``loss`` at steps 0..n-1 and other series (per step, or ``(steps, values)``)."""
    t = Trace(meta={"optimizer": "SGD", "settings": {"lr": 0.1, "momentum": 0.0}})
    t.extend("loss", range(len(loss)), loss)
    for name, s in series.items():
        steps, values = s if isinstance(s, tuple) else (np.arange(len(s)), s)
        t.extend(name.replace("__", "/"), steps, values)
    return t


def kinds(t: Trace, severity: str = "warning") -> list[str]:
    return diagnose(t).report.kinds(severity)


def noisy(curve: np.ndarray, scale: float, seed: int = 0) -> np.ndarray:
    return curve * np.exp(np.random.default_rng(seed).normal(scale=scale, size=curve.size))


STEPS = np.arange(N)
HEALTHY = noisy(0.1 + 2.2 * np.exp(-STEPS / 80), 0.15)
SAMPLED = STEPS[::10]


def test_a_healthy_noisy_curve_raises_nothing() -> None:
    assert kinds(trace(HEALTHY, grad_norm=noisy(np.ones(N), 0.3, 1))) == []


def test_noisy_small_batch_sgd_is_not_oscillation() -> None:
    # batch noise of +-60% around a falling level, i.i.d.: no structure beyond noise, steps that do not overshoot
    loss = noisy(0.2 + 2.1 * np.exp(-STEPS / 60), 0.6, 2)
    agree = (SAMPLED, np.random.default_rng(3).normal(-0.05, 0.2, SAMPLED.size))
    assert kinds(trace(loss, step_agreement=agree)) == []


def test_nan_that_stays_is_divergence_and_its_onset_is_where_the_rise_began() -> None:
    loss = HEALTHY.copy()
    loss[400:450] = 0.2 * np.exp((STEPS[400:450] - 400) / 5.0)
    loss[450:] = np.nan
    report = diagnose(trace(loss)).report
    (f,) = report.findings
    assert (f.kind, f.severity) == ("divergence", "error")
    assert 395 <= f.first_step <= 415 and f.evidence["nonfinite_at"] == 450


def test_a_loss_that_ends_four_times_above_its_best_has_diverged() -> None:
    loss = np.concatenate([HEALTHY[:300], np.linspace(HEALTHY[299], 5.0, 300)])
    assert kinds(trace(loss)) == ["divergence"]


def test_a_warm_up_spike_that_recovers_is_only_noted() -> None:
    loss = HEALTHY.copy()
    loss[60:90] *= 20  # the spike: 20x for 30 steps, then training carries on
    report = diagnose(trace(loss)).report
    assert report.ok
    assert report.kinds("info") == ["divergence"] and "recovered" in report.findings[0].message


def test_nan_for_a_few_steps_then_finite_is_recovered() -> None:
    loss = HEALTHY.copy()
    loss[200:203] = np.nan
    report = diagnose(trace(loss)).report
    assert report.ok and report.findings[0].severity == "info"


def test_period_two_alternation_is_oscillation() -> None:
    loss = 1.0 + 0.5 * (-1.0) ** STEPS + np.random.default_rng(4).normal(scale=0.05, size=N)
    assert kinds(trace(loss)) == ["oscillation"]


def test_steps_that_overshoot_are_oscillation() -> None:
    agree = (SAMPLED, np.random.default_rng(5).normal(-0.8, 0.1, SAMPLED.size))
    assert kinds(trace(HEALTHY, step_agreement=agree)) == ["oscillation"]


def test_a_loss_that_never_falls_is_a_plateau() -> None:
    loss = noisy(np.full(N, 2.3), 0.02, 6)
    report = diagnose(trace(loss)).report
    assert report.kinds() == ["plateau"]
    assert any(s.check == "curvature" for s in report.skipped)  # it says a probe could tell a saddle apart


def test_converged_flat_is_not_a_plateau() -> None:
    # falls fast, then sits at its noise floor for 85% of the run, steps no longer pointing downhill
    loss = noisy(0.05 + 2.2 * np.exp(-STEPS / 15), 0.2, 7)
    agree = (SAMPLED, np.random.default_rng(8).normal(-0.05, 0.2, SAMPLED.size))
    assert kinds(trace(loss, step_agreement=agree, update_ratio=(SAMPLED, np.full(SAMPLED.size, 5e-3)))) == []


def test_a_straight_slow_descent_with_steps_pointing_downhill_is_lr_too_low() -> None:
    loss = noisy(2.3 - 0.8 * STEPS / N, 0.02, 9)
    agree = (SAMPLED, np.random.default_rng(10).normal(0.4, 0.1, SAMPLED.size))
    assert kinds(trace(loss, step_agreement=agree, update_ratio=(SAMPLED, np.full(SAMPLED.size, 3e-5)))) == [
        "lr_too_low"
    ]


def test_the_bare_curve_of_a_straight_descent_is_lr_too_low() -> None:
    assert kinds(trace(noisy(2.3 - 0.8 * STEPS / N, 0.02, 11))) == ["lr_too_low"]


def test_a_stall_then_a_sudden_fall_with_a_growing_gradient_is_a_saddle() -> None:
    loss = 0.1 + 2.2 / (1 + np.exp((STEPS - 300) / 15))
    grad = 0.01 + np.exp(-(((STEPS - 300) / 30) ** 2))
    assert kinds(trace(noisy(loss, 0.01, 12), grad_norm=grad, lr=np.full(N, 0.1))) == ["saddle"]


def test_a_stall_that_ends_when_the_warm_up_ends_is_not_a_saddle() -> None:
    loss = 0.1 + 2.2 / (1 + np.exp((STEPS - 300) / 15))
    grad = 0.01 + np.exp(-(((STEPS - 300) / 30) ** 2))
    lr = np.where(STEPS < 290, 1e-4, 0.1)
    assert "saddle" not in kinds(trace(noisy(loss, 0.01, 13), grad_norm=grad, lr=lr))


def test_validation_loss_rising_while_training_loss_falls_is_overfitting() -> None:
    evals = np.arange(0, N + 1, 50)
    val = 0.8 + 0.002 * (evals - 150) ** 2 / 100
    f = diagnose(trace(HEALTHY, val_loss=(evals, val))).report.findings
    assert [x.kind for x in f] == ["overfitting"] and f[0].first_step == 150


def test_a_validation_plateau_is_not_overfitting_and_no_validation_is_said() -> None:
    evals = np.arange(0, N + 1, 50)
    assert kinds(trace(HEALTHY, val_loss=(evals, 0.8 + 1.5 * np.exp(-evals / 100)))) == []
    report = diagnose(trace(HEALTHY)).report
    assert any(s.check == "overfitting" and "validation" in s.reason for s in report.skipped)


LAYERS = {"meta": {"layers": ["0", "2", "4"], "dense_layers": ["0", "2", "4"]}}


def _layered(first: float, last: float) -> Trace:
    t = trace(
        HEALTHY,
        grad_norm__0=(SAMPLED, np.full(SAMPLED.size, first)),
        grad_norm__4=(SAMPLED, np.full(SAMPLED.size, last)),
    )
    t.meta.update(LAYERS["meta"])
    return t


@pytest.mark.parametrize(
    ("first", "kind"),
    [(100.0, "exploding_gradients"), (1e-5, "vanishing_gradients"), (1.0, None), (50.0, None), (2e-3, None)],
)
def test_layer_gradient_ratios_follow_autotrainer(first: float, kind: str | None) -> None:
    # AUTOTRAINER: first/last > 70 explodes, < 1e-3 vanishes
    assert kinds(_layered(first, 1.0)) == ([kind] if kind else [])


def test_clipping_hides_an_explosion_but_not_from_the_raw_gradient() -> None:
    # the loss is fine (clipping keeps it so) but the raw gradient norm grows 1000-fold and training stalls
    loss = noisy(np.full(N, 1.0), 0.05, 14)
    grad = np.exp(np.linspace(0, np.log(1e3), N))
    found = {f.kind: f for f in diagnose(trace(loss, grad_norm=grad)).report.findings}
    # the stall holds as well: it is reported, as the explosion's effect (issue 12, item 2)
    assert set(found) == {"exploding_gradients", "plateau"}
    assert found["plateau"].evidence["caused_by"] == ["exploding_gradients"]


def test_sparse_but_alive_is_not_dead() -> None:
    t = trace(
        HEALTHY,
        zero_fraction__1=(SAMPLED, np.full(SAMPLED.size, 0.95)),
        dead_fraction__1=(SAMPLED, np.full(SAMPLED.size, 0.02)),
    )
    assert kinds(t) == []


def test_half_the_units_dead_on_every_input_is_dead_units() -> None:
    t = trace(HEALTHY, dead_fraction__1=(SAMPLED, np.linspace(0, 0.9, SAMPLED.size)))
    (f,) = diagnose(t).report.findings
    assert f.kind == "dead_units" and f.evidence["dead_fraction"] == {"1": 0.9}


def test_saturation_of_a_hidden_layer_but_not_of_the_output_activation() -> None:
    t = trace(
        HEALTHY,
        saturated_fraction__1=(SAMPLED, np.full(SAMPLED.size, 0.8)),
        saturated_fraction__3=(SAMPLED, np.full(SAMPLED.size, 0.9)),
    )
    t.meta["output_activations"] = ["3"]
    (f,) = diagnose(t).report.findings
    assert f.kind == "saturation" and set(f.evidence["saturated_fraction"]) == {"1"}


def test_causes_and_effects_are_both_reported_and_linked() -> None:
    # issue 12, item 2: an explosion that diverges is both; dead units and the vanishing gradients they cause are both
    def f(kind: str, first: int, severity: str = "warning") -> Finding:
        return Finding(kind, severity, first, 99, kind)

    out = combine([f("divergence", 50, "error"), f("exploding_gradients", 10), f("overfitting", 0)])
    assert [x.kind for x in out] == ["divergence", "exploding_gradients", "overfitting"]
    assert out[1].severity == "error" and out[1].evidence["explains"] == ["divergence"]
    assert out[0].evidence["caused_by"] == ["exploding_gradients"]
    out = combine([f("saturation", 5), f("plateau", 0), f("vanishing_gradients", 5)])
    assert [x.kind for x in out] == ["saturation", "plateau", "vanishing_gradients"]
    assert out[0].evidence["explains"] == ["plateau", "vanishing_gradients"]
    assert out[2].evidence["caused_by"] == ["saturation"] and out[2].evidence["explains"] == ["plateau"]
    # dead units pass no gradient: the vanishing gradient behind them is their symptom (info), not a second problem
    out = combine([f("dead_units", 5), f("plateau", 0), f("vanishing_gradients", 5)])
    assert [(x.kind, x.severity) for x in out] == [
        ("dead_units", "warning"),
        ("plateau", "warning"),
        ("vanishing_gradients", "info"),
    ]
    assert out[2].evidence["caused_by"] == ["dead_units"] and out[1].evidence["caused_by"] == ["dead_units"]
    # units an unstable lr killed are dead all the same: both reported, the oscillation as their cause
    out = combine([f("oscillation", 5), f("dead_units", 20), f("saddle", 30)])
    assert [(x.kind, x.severity) for x in out] == [
        ("oscillation", "warning"),
        ("dead_units", "warning"),
        ("saddle", "info"),
    ]
    assert out[0].evidence["explains"] == ["dead_units"] and out[1].evidence["caused_by"] == ["oscillation"]
    # gradients that grew only after the blow-up began are its consequence: both stay, unlinked
    out = combine([f("divergence", 10, "error"), f("exploding_gradients", 50)])
    assert {x.kind for x in out} == {"divergence", "exploding_gradients"}
    assert "explains" not in out[1].evidence


def test_only_a_refuted_counterfactual_is_dropped() -> None:
    # "a larger lr would go further" is false when units are dead or the run sits on a saddle
    def f(kind: str) -> Finding:
        return Finding(kind, "warning", 0, 99, kind)

    assert [x.kind for x in combine([f("saddle"), f("lr_too_low")])] == ["saddle"]
    assert [x.kind for x in combine([f("saturation"), f("lr_too_low"), f("plateau")])] == ["saturation", "plateau"]
    assert [x.kind for x in combine([f("lr_too_low"), f("plateau")])] == ["lr_too_low", "plateau"]


def test_a_log_without_loss_skips_the_curve_checks() -> None:
    t = Trace()
    t.extend("val_loss", [0, 10], [1.0, 0.9])
    report = diagnose(t).report
    assert report.findings == ()
    assert {"divergence", "plateau", "lr_too_low", "oscillation", "saddle"} <= {s.check for s in report.skipped}
