"""Numerics presets: the conventions of torch.optim, optax and Keras 3 as explicit arguments of ravine's rules.

``ravine.optim.Adam(params, numerics="keras")`` runs the equations Keras runs, with Keras's defaults, so that a
recipe moved from one framework to another gives the same numbers (to rounding). A preset is only a choice of
constructor arguments of the same rules -- no optimiser is written twice. What differs (README, "Numerics
presets", measures how much each difference moves a run):

* Adam, AdamW -- torch: eps 1e-8 outside ``sqrt(v) / sqrt(1 - beta2^t)``; optax: eps 1e-8 outside
  ``sqrt(v / (1 - beta2^t))``, m corrected first (``correct_moments``); Keras: eps 1e-7 outside the *uncorrected*
  ``sqrt(v)``, the corrections folded into the step (``eps_hat``), weight decay decoupled. AdamW's default decay:
  torch 0.01, optax 1e-4, Keras 0.004.
* SGD with momentum -- torch and optax: ``b <- mu b + g``, ``p <- p - lr b`` (the same run); Keras: the lr inside
  the buffer, ``b <- mu b + lr g``, ``p <- p - b`` (``lr_in_buffer``: differs once lr changes).
* RMSprop -- torch: alpha 0.99, eps 1e-8 outside the root; optax: decay 0.9, eps 1e-8 inside the root; Keras: rho
  0.9, eps 1e-7 inside, lr inside the momentum buffer.
* Adagrad -- torch: G starts at 0, eps 1e-10 outside the root; optax and Keras: G starts at 0.1, eps 1e-7 inside.

An argument left at ``None`` takes the preset's default (torch's under ``"torch"``); an argument given is used
as given. Learning rates keep torch's defaults under every preset. Keras applies ``weight_decay`` decoupled
(``p <- p - lr * wd * p`` before the step) in every optimiser: ravine does so for Adam under ``"keras"`` and
refuses ``weight_decay`` with SGD, RMSprop and Adagrad under ``"keras"`` rather than guess.
"""

from __future__ import annotations

from typing import Any

from ravine.rules import _checks, heavy_ball, scale_by_adagrad, scale_by_adam, scale_by_rms

NUMERICS = ("torch", "optax", "keras")

DEFAULTS: dict[str, dict[str, dict[str, float]]] = {
    # torch.optim's signatures; optax's alias.py (adam, adamw, rmsprop, adagrad); keras.optimizers' constructors
    "Adam": {"torch": {"eps": 1e-8}, "optax": {"eps": 1e-8}, "keras": {"eps": 1e-7}},
    "AdamW": {
        "torch": {"eps": 1e-8, "weight_decay": 1e-2},
        "optax": {"eps": 1e-8, "weight_decay": 1e-4},
        "keras": {"eps": 1e-7, "weight_decay": 0.004},
    },
    "RMSprop": {
        "torch": {"eps": 1e-8, "alpha": 0.99},
        "optax": {"eps": 1e-8, "alpha": 0.9},
        "keras": {"eps": 1e-7, "alpha": 0.9},
    },
    "Adagrad": {
        "torch": {"eps": 1e-10, "initial_accumulator_value": 0.0},
        "optax": {"eps": 1e-7, "initial_accumulator_value": 0.1},
        "keras": {"eps": 1e-7, "initial_accumulator_value": 0.1},
    },
}


def check(numerics: str) -> str:
    _checks.choice("numerics", numerics, NUMERICS)
    return numerics


def fill(optimizer: str, numerics: str, **given: Any) -> dict[str, Any]:
    """``given`` with every ``None`` replaced by the preset's default for ``optimizer``."""
    defaults = DEFAULTS[optimizer][check(numerics)]
    return {k: (defaults[k] if v is None else v) for k, v in given.items()}


def adam(numerics: str) -> scale_by_adam:
    """Adam's moments in the preset's order: torch's, optax's (moments corrected first) or Keras's (eps hat)."""
    return scale_by_adam(correct_moments=numerics == "optax", eps_hat=numerics == "keras")


def momentum(numerics: str, **kw: Any) -> heavy_ball:
    """Heavy-ball momentum with the lr outside the buffer (torch, optax) or inside it (Keras)."""
    return heavy_ball(lr_in_buffer=numerics == "keras", **kw)


def rms(numerics: str) -> scale_by_rms:
    return scale_by_rms(eps_in_sqrt=numerics != "torch")


def adagrad(numerics: str) -> scale_by_adagrad:
    return scale_by_adagrad(eps_in_sqrt=numerics != "torch")


def refuse_coupled_decay(optimizer: str, numerics: str, weight_decay: float) -> None:
    if numerics == "keras" and weight_decay != 0:
        raise ValueError(
            f"weight_decay with numerics='keras': Keras decays {optimizer}'s weights decoupled (p -= lr * wd * p), "
            f"torch adds wd * p to the gradient; ravine supports Keras's form for Adam and AdamW only, so pass "
            f"weight_decay=0 here (got {weight_decay})"
        )
