"""Every number the doctor's verdicts depend on, in one place, each with where it comes from.

The values are taken from the literature where it has one, or derived from a model of the dynamics (a noisy
quadratic, an exponential approach to the floor) where it does not. The ones issue 12 added
(``half_step_overshoot``, ``oscillation_kick``, ``saddle_grad_growth``, ``escape_grad_growth``, ``lr_collapse``,
``converged_grad``) were chosen on development data only -- the dev split of the family benchmark
(``benchmarks/doctor.py score --split dev``), the legacy scenarios and ``tests/diagnose/test_live_faults.py``
-- and never on its held-out families; each says which runs it was chosen on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """The doctor's decision thresholds (pass ``Doctor(..., thresholds=Thresholds(dead_fraction=0.7))``).

    Attributes:
        min_steps: fewer finite losses than this and the curve-based checks are skipped (too little to judge).
        window_fraction: the analysis window (level of the loss at the start, at the end, ...) is this fraction
            of the run, at least ``min_window`` steps. A median over it is robust to batch noise and spikes.
        min_window: smallest analysis window, in steps.
        divergence_factor: the run has diverged when the loss ends this many times above its best level and
            has given back at least half of its progress. 4x is the LR range test's stopping rule (Smith, "Cyclical
            learning rates", WACV 2017, Sec. 3.3; fastai's ``lr_find`` stops at ``smooth_loss > 4 * best_loss``).
        explode_layer_ratio: gradients explode when the first layer's gradient norm is this many times the last
            layer's (AUTOTRAINER, Zhang et al. ICSE 2021, Table 2: beta_3 = 70).
        vanish_layer_ratio: gradients vanish when the first layer's gradient norm is below this fraction of the
            last layer's (AUTOTRAINER beta_1 = 1e-3).
        explode_growth: gradients explode when their norm (window median) grows by this factor during the run:
            two orders of magnitude, the "sudden jumps by orders of magnitude" of Pascanu et al. (ICML 2013,
            Sec. 3) -- healthy runs stay within about 10x.
        explode_clip_factor: gradients explode when the update used at most 1/10 of the raw gradient on most
            sampled steps (SGD-type optimisers): clipping is meant for rare spikes, at about the average norm
            (Pascanu et al. 2013, Sec. 3.2), not to cut every step by an order of magnitude.
        explode_spike: a single step whose gradient norm is this many times the running median is a cliff
            (Pascanu et al. 2013, Sec. 3.2), provided the loss at that step was still in its normal range.
        dead_fraction: a rectifier layer is dying when at least this fraction of its units output zero for every
            input of a window. AUTOTRAINER (gamma = 0.7) and DeepDiagnosis (ICSE 2022, 0.7) apply 0.7 to the
            fraction of zero *values*, which flags sparse-but-alive layers; a unit dead on every input is a
            stricter test, so half the layer is already a lost half of its capacity.
        dead_window_inputs: a window closes after this many inputs. A unit that fires on at least 0.5% of inputs
            is then seen alive with probability 1 - 0.995**1000 > 99.3%.
        saturation_slope: an activation is saturated where its derivative is below this fraction of its maximum
            (|tanh x| > 2.99, |sigmoid x| > 5.99); Glorot & Bengio (AISTATS 2010, Sec. 3) on saturated units.
        saturated_fraction: a layer is saturated when more than this fraction of its values are (DeepDiagnosis,
            Wardat et al. ICSE 2022: 0.5 of a layer's values beyond the saturation bound).
        overfit_generalization_loss: overfitting when the validation loss stays this fraction above its best
            while the training loss keeps falling: Prechelt's GL_5 criterion ("Early stopping -- but when?",
            1998, Sec. 2: GL(t) = 100 (E_va(t) / E_opt(t) - 1) > 5).
        overfit_evals_after_best: ... for at least this many evaluations after the best one.
        overfit_acc_drop: with accuracy only, overfitting when validation accuracy falls this much below its best
            while training accuracy rises (AUTOTRAINER's zeta = 0.03 accuracy swing).
        oscillation_agreement: the loss bounces when the mean step agreement cos(-g_{t+1}, dw_t) is below this.
            For SGD at its noise floor on a quadratic, E[cos] = -<lr * lambda> / 2 (noise-weighted mean over
            Hessian eigendirections; derivation in ``docs/diagnose.md``), so -0.5 means lr * lambda > 1: every step
            overshoots the valley floor and the iterate bounces from wall to wall (GD on a quadratic oscillates
            for 1 < lr * lambda < 2 and diverges above 2).
        half_step_overshoot: the steps overshoot when, pooled over the half-step probes of the second half, the
            update is more than this many times the best step along its own direction on its own batch
            (``q = 1 / a*``, see :func:`ravine.diagnose.detect.instability.half_step_ratio`). 1 is where the step
            passes the 1-D minimum; on the dev runs of issue 12 healthy runs gave q = 0.05-0.78 (SGD, Adam with
            batches of 4, RMSprop) and runs at 3-10x the stable lr 1.16-1.72.
        oscillation_kick: the first steps of a too-high lr multiply the loss: oscillation when the median of the
            first five losses is this many times the loss before training and the run ends above its best level
            (or, at 5x this, whatever the end). Dev families of issue 12 (Adam on spirals and IMDB, RMSprop on
            Fashion-MNIST at 3-10x the stable lr): 3.7-400x; none of the 30 healthy dev runs was flagged by it.
        lr_low_agreement: a larger step would lower the loss when the mean step agreement is above this: it is
            the sign of the hypergradient dL/dlr (Baydin et al., ICLR 2018, Sec. 2; Cockpit's alpha < 0, Schneider
            et al. NeurIPS 2021, Sec. 3), and at the noise floor it is <= 0 (see oscillation_agreement).
        lr_low_tail_share: the loss is still on its early, nearly straight descent when the last quarter of the
            (constant-lr part of the) run made at least this share of the total progress. For an exponential
            approach exp(-t / tau) the share is 0.15 after about 1.1 time constants, and ten times the lr covers
            ten times as many: the remaining excess loss would shrink from 33% to below 0.01%.
        lr_low_update_ratio: updates are small when ||dw|| / ||w|| per step stays below this ("somewhere around
            1e-3", Karpathy, CS231n notes "Neural Networks 3", ratio of weights:updates).
        stuck_progress: a run that never lowered its loss by this fraction of the initial loss never learned.
        stall_fraction: a stall (no significant progress) must last this fraction of the run to count.
        escape_drop: after a stall, an escape must remove at least this fraction of the loss left at the stall.
        saddle_curvature_ratio: a stall is at a saddle when the most negative Hessian eigenvalue is at least this
            fraction of the largest one: small negative eigenvalues are everywhere in training (Alain et al.
            2019; Ghorbani et al. ICML 2019, Sec. 3), a comparable one is a way down (Dauphin et al., NeurIPS
            2014).
        saddle_grad_growth: without a curvature probe, a stall is at a saddle when the gradient norm grows steadily
            by this factor over it while the loss stays flat (``d|g|^2/dt = -2 lr g^T H g`` grows only along
            negative curvature). Chosen on the dev runs of issue 12: a small-init deep linear net under full-batch
            GD 1.45x over 800 stalled steps; the lr-too-low runs of ``benchmarks/doctor.py`` (SGD on MNIST,
            stuck) <= 1.08x.
        lr_collapse: a schedule has collapsed the lr when it ends at or below this fraction of its peak, mid-run,
            and the loss stops there (a plateau, with schedule advice; ``lr_too_low`` is about a few-fold too small
            lr). Chosen between the two labelled cases: a 1000x cut that a larger lr would fix
            (``benchmarks/doctor.py`` ``low_decayed_early``, lr_too_low) and issue 12's schedule driven to ~0
            (1e-7 of the peak in its dev run, plateau).
        converged_grad: a flat tail is convergence, not an lr too low, once the gradient norm has shrunk below this
            fraction of its starting level (the dev families of issue 12: full-batch GD converged to a regression's
            noise floor, flagged lr_too_low before).
        escape_grad_growth: an escape from a stall counts as leaving a saddle only when the gradient norm over the
            steep first half of the fall is at least this many times its level during the stall (the unstable
            direction grows exponentially as the iterate leaves). Dev families of issue 12: healthy Adam on
            spirals, whose loss has a stage-like drop, 1.38x; the saddle escapes of ``benchmarks/doctor.py``
            (deep linear, tanh with momentum, small-init MNIST MLP) pass at 2x.
        agreement_z: a mean step agreement counts only when it is this many standard errors from the threshold.
        min_agreement_samples: fewer samples and the step agreement is not used.
    """

    min_steps: int = 30
    window_fraction: float = 0.05
    min_window: int = 5
    divergence_factor: float = 4.0
    explode_layer_ratio: float = 70.0
    vanish_layer_ratio: float = 1e-3
    explode_growth: float = 100.0
    explode_clip_factor: float = 10.0
    explode_spike: float = 100.0
    dead_fraction: float = 0.5
    dead_window_inputs: int = 1000
    saturation_slope: float = 0.01
    saturated_fraction: float = 0.5
    overfit_generalization_loss: float = 0.05
    overfit_evals_after_best: int = 2
    overfit_acc_drop: float = 0.03
    oscillation_agreement: float = -0.5
    half_step_overshoot: float = 1.0
    oscillation_kick: float = 2.0
    lr_low_agreement: float = 0.1
    lr_low_tail_share: float = 0.15
    lr_low_update_ratio: float = 1e-3
    stuck_progress: float = 0.1
    stall_fraction: float = 0.2
    escape_drop: float = 0.3
    saddle_curvature_ratio: float = 0.1
    saddle_grad_growth: float = 1.3
    lr_collapse: float = 1e-4
    converged_grad: float = 0.01
    escape_grad_growth: float = 2.0
    agreement_z: float = 3.0
    min_agreement_samples: int = 8

    def __post_init__(self) -> None:
        positive = [f.name for f in fields(self) if f.name not in ("oscillation_agreement", "lr_low_agreement")]
        for name in positive:
            v = getattr(self, name)
            if not v > 0:
                raise ValueError(f"Thresholds.{name} must be > 0, got {v!r}")
        for name in (
            "window_fraction",
            "dead_fraction",
            "saturated_fraction",
            "stuck_progress",
            "stall_fraction",
            "escape_drop",
            "lr_low_tail_share",
            "saturation_slope",
            "lr_collapse",
            "converged_grad",
        ):
            v = getattr(self, name)
            if not 0 < v < 1:
                raise ValueError(f"Thresholds.{name} must be in (0, 1), got {v!r}")
        if not -1 < self.oscillation_agreement < 0:
            raise ValueError(f"Thresholds.oscillation_agreement must be in (-1, 0), got {self.oscillation_agreement!r}")
        if not 0 <= self.lr_low_agreement < 1:
            raise ValueError(f"Thresholds.lr_low_agreement must be in [0, 1), got {self.lr_low_agreement!r}")

    def to_json(self) -> dict[str, Any]:
        """The thresholds as a plain dict."""
        return asdict(self)
