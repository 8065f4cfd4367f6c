"""Two variants of Adam's denominator: the infinity norm (Adamax) and a rectified variance (RAdam)."""

from __future__ import annotations

from typing import Any

from ravine.rules import ops
from ravine.rules.adam import _check_betas, update_moments
from ravine.rules.base import ElementwiseRule, Hyper


class scale_by_adamax(ElementwiseRule):
    """Adamax: Adam with the second moment replaced by an exponentially weighted infinity norm.

    ``m <- beta1 * m + (1 - beta1) * u``;  ``n <- max(beta2 * n, |u| + eps)``;
    ``u <- m / n / (1 - beta1^t)`` (only the first moment needs a bias correction: n is a maximum, not an average).

    Args:
        betas: (beta1, beta2), each in [0, 1) (torch (0.9, 0.999)).
        eps: >= 0, added to |u| before the maximum, so that n > 0 (torch 1e-8).

    State: ``exp_avg`` (m), ``exp_inf`` (n).

    Reference: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), section 7.1, algorithm 2.
    """

    state_names = ("exp_avg", "exp_inf")

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps)

    def validate(self, h: Hyper) -> None:
        _check_betas(h)

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        beta1, _ = h["betas"]
        return {"bc1": 1 - beta1**t}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        beta1, beta2 = h["betas"]
        m = s["exp_avg"]
        m = m + (u - m) * (1 - beta1)  # torch's lerp for a weight below 1/2
        n = ops.maximum(s["exp_inf"] * beta2, ops.abs(u) + h["eps"])
        s["exp_avg"], s["exp_inf"] = m, n
        return m / n / c["bc1"]


class scale_by_radam(ElementwiseRule):
    """RAdam: Adam whose adaptive step is switched on, and scaled, by how reliable the variance estimate is.

    ``m, v`` as in Adam;  ``rho_inf = 2 / (1 - beta2) - 1``;  ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``
    (the length of the simple moving average that v approximates). While ``rho_t <= 5`` the variance is too
    uncertain and the step is momentum SGD, ``u <- m_hat``; after that
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))`` and
    ``u <- r_t * m_hat * sqrt(1 - beta2^t) / (sqrt(v) + eps)``, with ``m_hat = m / (1 - beta1^t)``.

    Args:
        betas: (beta1, beta2), each in [0, 1) (torch (0.9, 0.999)).
        eps: >= 0, added to sqrt(v) (torch 1e-8).

    State: ``exp_avg`` (m), ``exp_avg_sq`` (v).

    Reference: Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and Beyond"
    (ICLR 2020), algorithm 2; the threshold 5 is torch's (the paper's is 4, where r_t is still 0).
    """

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps)

    def validate(self, h: Hyper) -> None:
        _check_betas(h)

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        beta1, beta2 = h["betas"]
        bc1 = 1 - beta1**t
        bc2 = 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bc2
        on = ops.greater(rho_t, 5.0)
        # Evaluated on every step, so kept finite where it is not used: rho_inf may be 2 or 4 exactly, and the
        # ratio is negative for rho_t < 4 (its root would be complex in Python).
        den = ops.select(on, (rho_inf - 4) * (rho_inf - 2) * rho_t, 1.0)
        rect = ops.select(on, (rho_t - 4) * (rho_t - 2) * rho_inf / den, 0.0) ** 0.5
        return {"on": on, "bc1": bc1, "k": bc2**0.5 * rect / bc1}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        m, v = update_moments(u, s, h)
        adaptive = m / (ops.sqrt(v) + h["eps"]) * c["k"]
        return ops.select(c["on"], adaptive, m / c["bc1"])
