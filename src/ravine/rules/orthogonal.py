"""Muon: momentum, then the update replaced by the nearest semi-orthogonal matrix (Newton-Schulz iteration)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import Hyper, Rule
from ravine.rules.step import scaled_step

#: Jordan's quintic coefficients (a, b, c), tuned for the steepest slope at 0 (torch's defaults).
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


class ema_momentum(Rule):
    """Momentum as an exponential moving average, with Nesterov's look-ahead as a second average (Muon's).

    ``b <- mu * b + (1 - mu) * u``;  ``u <- (1 - mu) * u + mu * b`` (Nesterov) or ``u <- b``.

    Unlike :class:`ravine.rules.heavy_ball` the buffer is an average (its scale does not grow by 1 / (1 - mu)).
    Written with ``torch.lerp``, whose rounding (a fused multiply-add on CPU) the orthogonalisation's bfloat16 input
    inherits, so Muon stays bit-identical to torch's; it therefore runs on the reference path.

    Args:
        momentum: mu >= 0 (torch's Muon 0.95).
        nesterov: the look-ahead form (torch's Muon True).

    State: ``momentum_buffer``. The update it returns without Nesterov *is* the buffer: later rules must not write
    into their input (none does).

    Reference: Jordan et al., "Muon: An optimizer for hidden layers in neural networks" (2024),
    https://kellerjordan.github.io/posts/muon/.
    """

    state_names = ("momentum_buffer",)

    def __init__(self, momentum: float = 0.95, nesterov: bool = True) -> None:
        super().__init__(momentum=momentum, nesterov=nesterov)

    def validate(self, h: Hyper) -> None:
        _checks.non_negative("momentum", h["momentum"])
        _checks.flag("nesterov", h["nesterov"])

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, st, h in zip(updates, states, groups, strict=True):
            mu, buf = h["momentum"], st["momentum_buffer"]
            buf.lerp_(u, 1 - mu)
            out.append(u.lerp(buf, mu) if h["nesterov"] else buf)
        return out


def newton_schulz(
    g: Tensor, coefficients: tuple[float, float, float], steps: int, eps: float, dtype: torch.dtype
) -> Tensor:
    """The zeroth power of a matrix, approximately: ``U S' V^T`` for ``g = U S V^T``, with S' near 1.

    ``X <- g / max(||g||_F, eps)`` (transposed to be wide); ``steps`` times ``A = X X^T``,
    ``X <- a X + (b A + c A^2) X``; computed in ``dtype`` (torch: bfloat16) and returned in it.
    """
    x = g.to(dtype, copy=True)  # never the caller's tensor: it is divided in place
    tall = g.size(0) > g.size(1)
    if tall:
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    a, b, c = coefficients
    for _ in range(steps):
        gram = x @ x.T
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b A + c A^2
        x = torch.addmm(x, poly, x, beta=a)
    return x.T if tall else x


class orthogonalize(Rule):
    """``u <- NS_k(u)``: the update replaced by (approximately) the orthogonal factor of its polar decomposition.

    Each step then moves every singular direction of the weight matrix equally, however unevenly the gradient
    is spread over them. Only for matrices; not elementwise, so it runs on the reference path.

    Args:
        ns_coefficients: (a, b, c) of the quintic iteration (torch (3.4445, -4.7750, 2.0315)).
        ns_steps: iterations, 0 <= k < 100 (torch 5).
        eps: >= 0, the floor of the Frobenius norm that the update is first divided by (torch 1e-7).
        dtype: the precision of the iteration (torch: bfloat16); the result is returned in the update's dtype,
            which is exact.

    Reference: Jordan et al. (2024), "Muon"; Bernstein & Newhouse, "Old Optimizer, New Norm: An Anthology"
    (arXiv:2409.20325, 2024), on steepest descent under the spectral norm.
    """

    supports_complex = False  # it measures or factors the tensor as a whole

    def __init__(
        self,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        ns_steps: int = 5,
        eps: float = 1e-7,
        dtype: torch.dtype = torch.bfloat16,
    ) -> None:
        coefficients = tuple(ns_coefficients) if isinstance(ns_coefficients, list) else ns_coefficients
        super().__init__(ns_coefficients=coefficients, ns_steps=ns_steps, eps=eps)
        self.dtype = dtype

    def options(self) -> dict[str, Any]:
        return {"dtype": self.dtype}

    def validate(self, h: Hyper) -> None:
        k = h["ns_steps"]
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < 100:
            raise ValueError(f"ns_steps must be an integer in [0, 100), got {k!r}")
        coefficients = h["ns_coefficients"]
        if not isinstance(coefficients, (tuple, list)) or len(coefficients) != 3:
            raise ValueError(f"ns_coefficients must be three numbers (a, b, c), got {coefficients!r}")
        for i, x in enumerate(coefficients):
            if not math.isfinite(_checks._number(f"ns_coefficients[{i}]", x)):
                raise ValueError(f"ns_coefficients[{i}] must be finite, got {x}")
        _checks.non_negative("eps", h["eps"])

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, h in zip(updates, groups, strict=True):
            if u.dim() != 2:
                raise ValueError(f"orthogonalize needs matrices, got an update of shape {tuple(u.shape)}")
            x = newton_schulz(u, tuple(h["ns_coefficients"]), h["ns_steps"], h["eps"], self.dtype)
            out.append(x.to(u.dtype))
        return out


def shape_ratio(shape: torch.Size, adjust_lr_fn: str | None) -> float:
    """Muon's per-matrix learning-rate multiplier for an ``A x B`` weight.

    ``"original"`` (or None): ``sqrt(max(1, A / B))`` (Jordan), so that a tall matrix's update has the RMS of a
    square one's; ``"match_rms_adamw"``: ``0.2 sqrt(max(A, B))`` (Liu et al., "Muon is Scalable for LLM
    Training", arXiv:2502.16982, 2025), an update RMS of 0.2 like AdamW's, so AdamW's lr and weight decay carry over.
    """
    a, b = shape[0], shape[1]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, a / b))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(a, b))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


class shape_scaled_step(scaled_step):
    """Muon's step: ``p <- p * (1 - lr * weight_decay) - lr * ratio(A, B) * u`` (a *final* rule, see
    :attr:`ravine.rules.base.Rule.final`), ``ratio`` from :func:`shape_ratio`.

    Args:
        weight_decay: decoupled, >= 0 (torch's Muon 0.1).
        adjust_lr_fn: None / ``"original"`` or ``"match_rms_adamw"``.
    """

    def __init__(self, weight_decay: float = 0.1, adjust_lr_fn: str | None = None) -> None:
        super().__init__(weight_decay=weight_decay, adjust_lr_fn=adjust_lr_fn)

    def validate(self, h: Hyper) -> None:
        super().validate(h)
        fn = h["adjust_lr_fn"]
        if fn is not None and fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {fn!r}")

    def step_size(self, p: Tensor, u: Tensor, state: dict, h: Hyper) -> Any:
        return h["lr"] * shape_ratio(p.shape, h["adjust_lr_fn"])
