"""Adam and its relatives: bias-corrected first and second moments (Adam, AMSGrad) and Nesterov's form (NAdam)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks, ops
from ravine.rules.base import ElementwiseRule, Hyper, scalar_dtype


def _check_betas(h: Hyper) -> None:
    b1, b2 = _checks.pair("betas", h["betas"])
    _checks.unit_interval("betas[0]", b1)
    _checks.unit_interval("betas[1]", b2)
    _checks.non_negative("eps", h["eps"])


def update_moments(u: Any, s: dict, h: Hyper) -> tuple[Any, Any]:
    """Adam's moving averages, shared by Adam and NAdam: ``m <- beta1 m + (1 - beta1) u`` (as a lerp, like torch),
    ``v <- beta2 v + (1 - beta2) u^2``; stores and returns the new (m, v)."""
    beta1, beta2 = h["betas"]
    m = s["exp_avg"]
    m = m + (u - m) * (1 - beta1)
    v = s["exp_avg_sq"] * beta2 + u * u * (1 - beta2)
    s["exp_avg"], s["exp_avg_sq"] = m, v
    return m, v


class scale_by_adam(ElementwiseRule):
    """Adam's moments: ``u <- m_hat / (sqrt(v_hat) + eps)``.

    ``m <- beta1 * m + (1 - beta1) * u``;  ``v <- beta2 * v + (1 - beta2) * u^2``;
    ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)`` (bias correction); AMSGrad uses the running
    maximum of v instead of v.

    Args:
        betas: (beta1, beta2), each in [0, 1) (torch (0.9, 0.999)).
        eps: >= 0, added to the root of v_hat (torch 1e-8).
        amsgrad: use max(v) so that the effective step never grows (Reddi et al.).
        bias_correction: divide by 1 - beta^t (the paper); False gives the uncorrected moments (RMSProp with
            momentum on m).
        eps_in_sqrt: ``sqrt(v_hat + eps)`` instead of ``sqrt(v_hat) + eps``.
        correct_moments: the order optax uses: ``m_hat = m / (1 - beta1^t)``, ``v_hat = v / (1 - beta2^t)``, then
            ``m_hat / (sqrt(v_hat) + eps)`` (torch divides the root of v by ``sqrt(1 - beta2^t)`` instead): the same
            equation, rounded differently.
        eps_hat: the paper's "epsilon hat" form (Kingma & Ba, end of section 2), used by Keras and TensorFlow:
            ``sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)``. eps then sits outside the *uncorrected*
            root, so it acts like ``eps * sqrt(1 - beta2^t)`` in torch's form: 30x smaller at t = 1 (beta2 0.999).

    State: ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` with AMSGrad.

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), algorithm 1;
    Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond" (ICLR 2018).
    """

    state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(
        self,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        amsgrad: bool = False,
        bias_correction: bool = True,
        eps_in_sqrt: bool = False,
        correct_moments: bool = False,
        eps_hat: bool = False,
    ) -> None:
        if eps_hat and (eps_in_sqrt or correct_moments):
            raise ValueError("eps_hat is a form of its own: it cannot be combined with eps_in_sqrt or correct_moments")
        super().__init__(betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps, amsgrad=amsgrad)
        self.bias_correction = bias_correction
        self.eps_in_sqrt = eps_in_sqrt
        self.correct_moments = correct_moments
        self.eps_hat = eps_hat

    def options(self) -> dict[str, Any]:
        return {
            "bias_correction": self.bias_correction,
            "eps_in_sqrt": self.eps_in_sqrt,
            "correct_moments": self.correct_moments,
            "eps_hat": self.eps_hat,
        }

    def validate(self, h: Hyper) -> None:
        _check_betas(h)
        _checks.flag("amsgrad", h["amsgrad"])

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return self.state_names if h["amsgrad"] else self.state_names[:2]

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        if not self.bias_correction:
            return {"bc1": 1.0, "bc2": 1.0, "bc2_sqrt": 1.0, "step_scale": 1.0}
        beta1, beta2 = h["betas"]
        bc1, bc2 = 1 - beta1**t, 1 - beta2**t
        return {"bc1": bc1, "bc2": bc2, "bc2_sqrt": bc2**0.5, "step_scale": bc2**0.5 / bc1}

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        m, v = update_moments(u, s, h)
        if h["amsgrad"]:
            v = ops.maximum(s["max_exp_avg_sq"], v)
            s["max_exp_avg_sq"] = v
        if self.eps_hat:
            return m * c["step_scale"] / (ops.sqrt(v) + h["eps"])
        if self.correct_moments:
            v_hat = v / c["bc2"]
            root = ops.sqrt(v_hat + h["eps"]) if self.eps_in_sqrt else ops.sqrt(v_hat) + h["eps"]
            return m / c["bc1"] / root
        if self.eps_in_sqrt:
            denom = ops.sqrt(v / c["bc2"] + h["eps"])
        else:
            denom = ops.sqrt(v) / c["bc2_sqrt"] + h["eps"]
        return m / denom / c["bc1"]


class scale_by_nadam(ElementwiseRule):
    """NAdam: Adam with Nesterov momentum and Dozat's momentum schedule (torch's ``NAdam``).

    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi))`` (psi = momentum_decay), ``P_t = prod mu_1..mu_t``;
    ``m, v`` as in Adam;  ``u <- [(1 - mu_t) / (1 - P_t) * u + mu_{t+1} / (1 - P_t mu_{t+1}) * m]
    / (sqrt(v / (1 - beta2^t)) + eps)``.

    Args:
        betas: (beta1, beta2), each in [0, 1) (torch (0.9, 0.999)).
        eps: >= 0 (torch 1e-8).
        momentum_decay: psi >= 0 (torch 4e-3).

    State: ``exp_avg``, ``exp_avg_sq``, and the 0-dim ``mu_product`` (P_t), stored like torch in the scalar
    dtype and multiplied in it, so that runs match torch's to the last bit of P_t.

    Reference: Dozat, "Incorporating Nesterov Momentum into Adam" (ICLR 2016 workshop), algorithm 2.
    """

    state_names = ("exp_avg", "exp_avg_sq")
    scalar_state_names = ("mu_product",)

    def __init__(self, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, momentum_decay: float = 4e-3):
        super().__init__(
            betas=tuple(betas) if isinstance(betas, list) else betas, eps=eps, momentum_decay=momentum_decay
        )

    def validate(self, h: Hyper) -> None:
        _check_betas(h)
        _checks.non_negative("momentum_decay", h["momentum_decay"])

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        out = super().init(param, h)
        # On the CPU, as torch keeps it (capturable=False): no device sync per step; works for meta/fake params.
        out["mu_product"] = torch.tensor(1.0, dtype=scalar_dtype())
        return out

    def scalars(self, h: Hyper, t: Any, ss: dict, r: dict) -> dict[str, Any]:
        beta1, beta2 = h["betas"]
        psi = h["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        ss["mu_product"] = ss["mu_product"] * mu
        P = ops.value(ss["mu_product"])
        return {
            "bc2": 1 - beta2**t,
            "c_grad": (1.0 - mu) / (1.0 - P),
            "c_avg": mu_next / (1.0 - P * mu_next),
        }

    def apply(self, u: Any, p: Any, s: dict, h: Hyper, c: dict) -> Any:
        m, v = update_moments(u, s, h)
        denom = ops.sqrt(v / c["bc2"]) + h["eps"]
        return u / denom * c["c_grad"] + m / denom * c["c_avg"]
