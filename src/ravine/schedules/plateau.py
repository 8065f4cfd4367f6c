"""Reduce the learning rate when a metric stops improving: the one schedule that listens to the run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

from ravine.schedules import base
from ravine.schedules.base import Schedule

_STATE = ("lr_now", "best", "num_bad_epochs", "cooldown_counter", "last_epoch")


@dataclass(eq=True)
class ReduceOnPlateau(Schedule):
    """Multiply the learning rate by ``factor`` once a metric has not improved for ``patience`` reports.

    torch's ``ReduceLROnPlateau`` rules, reported to with :meth:`step` (usually once per epoch, after
    validation): a report is an improvement if it beats the best so far by more than the threshold
    (``mode="min"``: ``metric < best (1 - threshold)`` in ``"rel"`` mode, ``metric < best - threshold`` in
    ``"abs"``; mirrored for ``"max"``); after more than ``patience`` reports without one, ``lr <- max(lr factor,
    min_lr)`` unless that changes it by ``eps`` or less, then ``cooldown`` reports are ignored.

    As a schedule, ``plateau(k)`` is the current learning rate whatever the step, so a reduction takes effect at the
    next optimiser step: pass it as ``lr=plateau`` to a ravine optimiser or as ``ScheduleLR(opt, plateau)``. Its
    state (five numbers, :meth:`state_dict`) is saved with the optimiser or the ``ScheduleLR``.

    Args:
        lr: >= 0, the learning rate until the first reduction.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: in [0, 1), the multiplier of each reduction (torch 0.1).
        patience: >= 0 reports without improvement tolerated before reducing (torch 10).
        threshold: >= 0, the improvement that counts (torch 1e-4).
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: >= 0 reports after a reduction during which bad reports are not counted.
        min_lr: >= 0, the floor.
        eps: >= 0, reductions smaller than this are skipped (torch 1e-8).

    Reference: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks"
    (NeurIPS 2012), section 5 ("divide the learning rate by 10 when the validation error rate stopped improving").

    Example:
        >>> from ravine.schedules import ReduceOnPlateau
        >>> plateau = ReduceOnPlateau(0.1, patience=1)
        >>> [plateau.step(loss) for loss in (1.0, 0.5, 0.6, 0.7)]
        [0.1, 0.1, 0.1, 0.010000000000000002]
    """

    lr: float
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr: float = 0.0
    eps: float = 1e-8
    # the state (repr shows the arguments only, so that repr(plateau) rebuilds a fresh one)
    lr_now: float = field(init=False, repr=False)
    best: float = field(init=False, repr=False)
    num_bad_epochs: int = field(init=False, default=0, repr=False)
    cooldown_counter: int = field(init=False, default=0, repr=False)
    last_epoch: int = field(init=False, default=0, repr=False)

    def __post_init__(self) -> None:
        self.lr = base.real("lr", self.lr, 0.0)
        base.choice("mode", self.mode, ("min", "max"))
        self.factor = base.real("factor", self.factor, 0.0, high=1.0, high_open=True)
        self.patience = base.integer("patience", self.patience, 0)
        self.threshold = base.real("threshold", self.threshold, 0.0)
        base.choice("threshold_mode", self.threshold_mode, ("rel", "abs"))
        self.cooldown = base.integer("cooldown", self.cooldown, 0)
        self.min_lr = base.real("min_lr", self.min_lr, 0.0)
        self.eps = base.real("eps", self.eps, 0.0)
        self.lr_now = self.lr
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, step: int) -> float:
        return self.lr_now

    @property
    def stateful(self) -> bool:
        return True

    def improves(self, metric: float) -> bool:
        """Whether ``metric`` beats the best report so far by more than the threshold (torch's ``is_better``)."""
        best = self.best
        if self.mode == "min":
            return metric < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return metric > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metric: SupportsFloat) -> float:
        """Report the metric of the latest evaluation; returns the learning rate from now on.

        A NaN metric is never an improvement (it counts as a bad report), as in torch.
        """
        current = float(metric)
        self.last_epoch += 1
        if self.improves(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new = max(self.lr_now * self.factor, self.min_lr)
            if self.lr_now - new > self.eps:
                self.lr_now = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr_now

    def state_dict(self) -> dict[str, Any]:
        """The current learning rate, the best report, the two counters and the number of reports."""
        return {k: getattr(self, k) for k in _STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != set(_STATE):
            raise ValueError(f"a ReduceOnPlateau state has the keys {list(_STATE)}, got {sorted(state)}")
        for k in _STATE:
            setattr(self, k, state[k])
