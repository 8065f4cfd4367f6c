"""Adafactor: a second moment stored as row and column factors, and a step relative to the parameter's scale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import Hyper, Rule
from ravine.rules.step import scalar, scaled_step


def _eps_pair(h: Hyper) -> tuple[float | None, float]:
    eps1, eps2 = _checks.pair("eps", h["eps"])
    if eps1 is not None:
        _checks.non_negative("eps[0]", eps1)
    _checks.non_negative("eps[1]", eps2)
    return eps1, eps2


def _eps1(h: Hyper, p: Tensor) -> float:
    """eps[0], or the machine epsilon of the parameter's dtype when it is None (torch's default)."""
    eps1 = h["eps"][0]
    return torch.finfo(p.dtype).eps if eps1 is None else eps1


class scale_by_factored_rms(Rule):
    """Adafactor's second moment: ``u <- u / sqrt(V_hat)``, with V_hat factored over the last two dimensions.

    ``beta2_t = 1 - t^beta2_decay`` (so ``1 - beta2_t = t^beta2_decay``, 1 at the first step: no bias correction
    is needed);  for a matrix (or a stack of them), with ``R, C`` the row and column means of ``u^2``:
    ``r <- beta2_t r + (1 - beta2_t) R``,  ``c <- beta2_t c + (1 - beta2_t) C``,
    ``V_hat = r c^T / max(mean(r), eps1)``; for a vector or a scalar ``V_hat <- beta2_t V_hat + (1 - beta2_t) u^2``;
    then ``u <- u / sqrt(max(V_hat, eps1^2))``. A matrix of n x m keeps n + m numbers instead of n m.

    Not elementwise (the factors reduce over rows and columns), so it runs on the reference path, with torch's
    operations in torch's order (torch's ``Adafactor`` to the last bit).

    Args:
        beta2_decay: <= 0 (torch -0.8; the paper's decay rate 1 - t^-0.8).
        eps: (eps1, eps2): eps1 >= 0 regularises the second moment (None: the dtype's machine epsilon, torch's
            default); eps2 is read by :class:`relative_step`.

    State: ``row_var`` and ``col_var`` (shapes ``(..., n, 1)`` and ``(..., 1, m)``) for tensors of two or more
    dimensions, ``variance`` for the others. Which one depends on the parameter's shape, so it is created on first
    use rather than declared in ``state_names``.

    Reference: Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost" (ICML 2018),
    algorithms 4 and 5; torch's variant (``torch.optim.Adafactor``) normalises by ``mean(r)`` and clamps it.
    """

    supports_complex = False  # it measures or factors the tensor as a whole

    def __init__(self, beta2_decay: float = -0.8, eps: tuple[float | None, float] = (None, 1e-3)) -> None:
        super().__init__(beta2_decay=beta2_decay, eps=tuple(eps) if isinstance(eps, list) else eps)

    def validate(self, h: Hyper) -> None:
        if not _checks._number("beta2_decay", h["beta2_decay"]) <= 0.0:
            raise ValueError(f"beta2_decay must be in (-inf, 0], got {h['beta2_decay']}")
        _eps_pair(h)

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        if param.dim() > 1:
            return {
                "row_var": param.new_zeros((*param.shape[:-1], 1)),
                "col_var": param.new_zeros((*param.shape[:-2], 1, param.shape[-1])),
            }
        return {"variance": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, p, st, h in zip(updates, params, states, groups, strict=True):
            if "row_var" not in st and "variance" not in st:
                st.update(self.init(p, h))
            weight = scalar(st["step"]) ** h["beta2_decay"]  # 1 - beta2_t
            eps1 = _eps1(h, p)
            if u.dim() > 1:
                # mean(u^2) over a row is norm^2 / n, computed without the n x m square
                rows = torch.norm(u, dim=-1, keepdim=True).square_().div_(u.size(-1))
                cols = torch.norm(u, dim=-2, keepdim=True).square_().div_(u.size(-2))
                st["row_var"].lerp_(rows, weight)
                st["col_var"].lerp_(cols, weight)
                v = st["row_var"] @ st["col_var"]
                v.div_(st["row_var"].mean(dim=-2, keepdim=True).clamp_(min=eps1))
            else:
                st["variance"].lerp_(u * u, weight)
                v = st["variance"].clone()
            out.append(v.clamp_(min=eps1 * eps1).rsqrt_().mul_(u))
        return out


class relative_step(scaled_step):
    """Adafactor's step: relative to the parameter's RMS, with the update clipped by its own RMS.

    ``rho_t = min(lr, 1 / sqrt(t))``;  ``a_t = max(eps2, RMS(p)) * rho_t``;  ``D = max(1, RMS(u) / d)``;
    ``p <- p * (1 - lr * weight_decay) - (a_t / D) * u``  (a *final* rule: :attr:`ravine.rules.base.Rule.final`).

    Args:
        eps: (eps1, eps2); eps2 >= 0 is the smallest parameter scale a step is relative to (torch 1e-3).
        d: the clipping threshold d >= 1 on the update's RMS (torch 1.0).
        weight_decay: decoupled, >= 0 (torch 0).

    Reference: Shazeer & Stern (ICML 2018), sections 6 (update clipping) and 8 (relative step size).
    """

    def __init__(
        self, eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(weight_decay=weight_decay, eps=tuple(eps) if isinstance(eps, list) else eps, d=d)

    def validate(self, h: Hyper) -> None:
        super().validate(h)
        _eps_pair(h)
        if not _checks._number("d", h["d"]) >= 1.0:
            raise ValueError(f"d must be in [1, inf), got {h['d']}")

    def step_size(self, p: Tensor, u: Tensor, state: dict, h: Hyper) -> Any:
        t = scalar(state["step"])
        rho = min(h["lr"], 1 / (t**0.5))
        a = max(h["eps"][1], p.norm(2).item() / (p.numel() ** 0.5)) * rho
        clip = max(1.0, u.norm(2).item() / ((u.numel() ** 0.5) * h["d"]))
        return a / clip
