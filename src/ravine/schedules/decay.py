"""Closed-form schedules: ``lr(k)`` for the number of steps already taken, k = 0, 1, 2, ...

Each is written with torch's closed form (``_get_closed_form_lr``) where torch has one, operation for operation,
so the values agree with torch's to the last bit; torch's schedulers step by a recursive formula that drifts from
the closed form by a few ulp over 1,000 steps (see tests/schedules/test_torch_parity.py).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ravine.schedules import base
from ravine.schedules.base import Schedule, set_field


@dataclass(frozen=True)
class constant(Schedule):
    """``lr(k) = lr``.

    Args:
        lr: >= 0.
    """

    lr: float

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))

    def value(self, step: int) -> float:
        return self.lr

    @property
    def horizon(self) -> int:
        return 0


@dataclass(frozen=True)
class step_decay(Schedule):
    """Step decay: ``lr(k) = lr * gamma^floor(k / step_size)`` (torch's ``StepLR``).

    Args:
        lr: >= 0, the value for the first ``step_size`` steps.
        step_size: >= 1 steps between decays.
        gamma: decay factor in (0, 1] (torch 0.1).

    Reference: Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015), section 6 (the learning rate
    decreased by 4% every 8 epochs: ``step_decay(lr, 8 * steps_per_epoch, 0.96)``).
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        set_field(self, "step_size", base.integer("step_size", self.step_size, 1))
        set_field(self, "gamma", base.real("gamma", self.gamma, 0.0, low_open=True, high=1.0))

    def value(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)


@dataclass(frozen=True)
class multistep(Schedule):
    """Decay at milestones: ``lr(k) = lr * gamma^(number of milestones <= k)`` (torch's ``MultiStepLR``).

    Args:
        lr: >= 0, the value before the first milestone.
        milestones: strictly increasing steps >= 1.
        gamma: decay factor in (0, 1] (torch 0.1).

    Reference: He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition" (CVPR 2016), section 3.4
    (divide by 10 at 32k and 48k iterations).
    """

    lr: float
    milestones: Sequence[int]
    gamma: float = 0.1

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        if isinstance(self.milestones, (str, bytes)) or not isinstance(self.milestones, Sequence):
            raise ValueError(f"milestones must be a sequence of steps, got {self.milestones!r}")
        ms = tuple(base.integer(f"milestones[{i}]", m, 1) for i, m in enumerate(self.milestones))
        for i in range(1, len(ms)):
            if ms[i] <= ms[i - 1]:
                raise ValueError(f"milestones must be strictly increasing, got {list(ms)}")
        set_field(self, "milestones", ms)
        set_field(self, "gamma", base.real("gamma", self.gamma, 0.0, low_open=True, high=1.0))

    def value(self, step: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, step)

    @property
    def horizon(self) -> int:
        return self.milestones[-1] if self.milestones else 0


@dataclass(frozen=True)
class exponential(Schedule):
    """Exponential decay: ``lr(k) = lr * gamma^k`` (torch's ``ExponentialLR``).

    Args:
        lr: >= 0, the value at step 0.
        gamma: > 0; below 1 it decays, above 1 it grows, as in a learning-rate range test (Smith, "Cyclical
            Learning Rates for Training Neural Networks", WACV 2017, section 3.3).

    Raises ``ValueError`` at a step where ``gamma^k`` overflows a float.
    """

    lr: float
    gamma: float

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        set_field(self, "gamma", base.real("gamma", self.gamma, 0.0, low_open=True))

    def value(self, step: int) -> float:
        try:
            return self.lr * self.gamma**step
        except OverflowError:
            raise ValueError(f"{self!r} overflows a float at step {step}") from None


@dataclass(frozen=True)
class cosine(Schedule):
    """Cosine decay: ``lr(k) = min_lr + (lr - min_lr) (1 + cos(pi min(k, T) / T)) / 2``, T = ``total_steps``.

    torch's ``CosineAnnealingLR`` (closed form); after T steps it stays at ``min_lr`` (torch's turns back up).

    Args:
        lr: >= 0, the value at step 0.
        total_steps: T >= 1, the step at which ``min_lr`` is reached.
        min_lr: in [0, lr].

    Reference: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (ICLR 2017), eq. 5.
    """

    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        set_field(self, "total_steps", base.integer("total_steps", self.total_steps, 1))
        set_field(self, "min_lr", base.real("min_lr", self.min_lr, 0.0, high=self.lr))

    def value(self, step: int) -> float:
        t = min(step, self.total_steps)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t / self.total_steps)) / 2

    @property
    def horizon(self) -> int:
        return self.total_steps


@dataclass(frozen=True)
class linear(Schedule):
    """Linear interpolation: ``lr(k) = start + (end - start) min(k, T) / T``, then ``end`` (torch's ``LinearLR``).

    Args:
        start: >= 0, the value at step 0.
        end: >= 0, the value from step T on.
        total_steps: T >= 1.
    """

    start: float
    end: float
    total_steps: int

    def __post_init__(self) -> None:
        set_field(self, "start", base.real("start", self.start, 0.0))
        set_field(self, "end", base.real("end", self.end, 0.0))
        set_field(self, "total_steps", base.integer("total_steps", self.total_steps, 1))

    def value(self, step: int) -> float:
        # interpolate from the nearer end, so that a decay to 0 stays accurate to an ulp near its end (from the
        # start, 0.1 + (0 - 0.1) * 999 / 1000 loses 9 bits to cancellation)
        t, T = min(step, self.total_steps), self.total_steps
        if 2 * t < T:
            return self.start + (self.end - self.start) * t / T
        return self.end - (self.end - self.start) * (T - t) / T

    @property
    def horizon(self) -> int:
        return self.total_steps


@dataclass(frozen=True)
class polynomial(Schedule):
    """Polynomial decay: ``lr(k) = end + (lr - end) (1 - min(k, T) / T)^power`` (torch's ``PolynomialLR``: end 0).

    Args:
        lr: >= 0, the value at step 0.
        total_steps: T >= 1, the step at which ``end`` is reached.
        power: > 0 (1: linear decay; torch's default 1).
        end: in [0, lr] (optax's ``end_value``).

    Reference: Chen et al., "DeepLab" (TPAMI 2018), section 4.1 ("poly" policy, power 0.9).
    """

    lr: float
    total_steps: int
    power: float = 1.0
    end: float = 0.0

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        set_field(self, "total_steps", base.integer("total_steps", self.total_steps, 1))
        set_field(self, "power", base.real("power", self.power, 0.0, low_open=True))
        set_field(self, "end", base.real("end", self.end, 0.0, high=self.lr))

    def value(self, step: int) -> float:
        frac = 1.0 - min(step, self.total_steps) / self.total_steps
        return self.end + (self.lr - self.end) * frac**self.power

    @property
    def horizon(self) -> int:
        return self.total_steps


@dataclass(frozen=True)
class inverse_sqrt(Schedule):
    """Inverse square-root decay: ``lr(k) = lr / sqrt(1 + k / timescale)``.

    With ``timescale=1`` this is Adam's ``alpha_t = alpha / sqrt(t)`` for t = k + 1 (Kingma & Ba, ICLR 2015,
    section 4); with ``timescale=W`` after ``W`` warm-up steps, ``warmup(inverse_sqrt(peak, W), W)`` is the
    Transformer's ``d^-0.5 min(t^-0.5, t W^-1.5)`` from step W on (Vaswani et al., NeurIPS 2017, eq. 3).

    Args:
        lr: >= 0, the value at step 0.
        timescale: > 0, the number of steps over which the value falls by sqrt(2).
    """

    lr: float
    timescale: float = 1.0

    def __post_init__(self) -> None:
        set_field(self, "lr", base.real("lr", self.lr, 0.0))
        set_field(self, "timescale", base.real("timescale", self.timescale, 0.0, low_open=True))

    def value(self, step: int) -> float:
        return self.lr / math.sqrt(1.0 + step / self.timescale)
