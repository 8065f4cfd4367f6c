"""Shampoo: a Kronecker-factored full-matrix preconditioner, one statistics matrix per dimension of a tensor."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ravine.rules import _checks
from ravine.rules.base import Hyper, Rule


def inverse_root(matrix: Tensor, root: int) -> Tensor:
    """``matrix^(-1/root)`` of a symmetric positive definite matrix through its SVD, in float32 or float64."""
    dtype = torch.float64 if matrix.dtype == torch.float64 else torch.float32
    u, s, vh = torch.linalg.svd(matrix.to(dtype), full_matrices=False)
    s.pow_(-1.0 / root)
    return ((u * s.unsqueeze(-2)) @ vh).to(matrix.dtype)


class shampoo_precondition(Rule):
    """Shampoo's preconditioned direction for a tensor G of order k with dimensions n_1..n_k.

    ``G <- lerp(G, B, momentum)`` (B: the previous *preconditioned* direction, as pytorch_optimizer keeps it);
    ``G <- G + lambda p`` (L2);  for each dimension i: ``H_i <- H_i + G_(i) G_(i)^T`` (G_(i): G unfolded along i),
    ``u <- u x_i H_i^(-1/(2k))`` (the mode-i product), ``p <- p - lr u`` (a final rule), each inverse root
    recomputed every ``preconditioning_compute_steps`` steps by an SVD. A 0-dim tensor is not preconditioned.

    Memory: ``2 * sum(n_i^2)`` numbers per tensor (H_i and its inverse root), plus one tensor like p with
    momentum: a 1024 x 1024 matrix costs 4x its parameters, a 50,000 x 512 embedding 2 * 50,000^2 = 5e9 numbers
    (20 GB in float32) -- Shampoo is for tensors whose every dimension is moderate. Time: an SVD of each n_i x n_i
    factor per recomputation, O(sum n_i^3).

    Args:
        momentum: in [0, 1) (0: none).
        weight_decay: L2 decay lambda >= 0, added to G after the momentum.
        preconditioning_compute_steps: recompute the inverse roots every this many steps (>= 1).
        matrix_eps: H_i starts at ``matrix_eps * I`` (> 0 keeps the first inverse root finite).

    State: ``momentum_buffer`` (with momentum), ``pre_cond_i`` and ``inv_pre_cond_i`` per dimension i (the
    reference's names), created at a tensor's first step.

    References: Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018,
    algorithm 2; the ``pytorch_optimizer`` package's ``Shampoo``, whose arithmetic this follows operation by
    operation.
    """

    supports_complex = False  # the statistics are real matrices
    # Final (returns the new p): ``p.add(u, alpha=-lr)`` is torch's fused multiply-add, the reference's last
    # operation; Shampoo's dynamics amplify a one-ulp difference there to 1e-3 in 200 steps.
    final = True

    def __init__(
        self,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        preconditioning_compute_steps: int = 1,
        matrix_eps: float = 1e-6,
    ) -> None:
        super().__init__(
            momentum=momentum,
            weight_decay=weight_decay,
            preconditioning_compute_steps=preconditioning_compute_steps,
            matrix_eps=matrix_eps,
        )

    def validate(self, h: Hyper) -> None:
        _checks.unit_interval("momentum", h["momentum"])
        _checks.non_negative("weight_decay", h["weight_decay"])
        steps = h["preconditioning_compute_steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"preconditioning_compute_steps must be an integer in [1, inf), got {steps!r}")
        _checks.positive("matrix_eps", h["matrix_eps"])

    def state_keys(self, h: Hyper) -> tuple[str, ...]:
        return ()  # the per-dimension matrices depend on the tensor's shape: made in update()

    def init(self, param: Tensor, h: Hyper) -> dict[str, Tensor]:
        """The state a first step finds (zeros, ``matrix_eps * I``): what a distributed checkpoint's state-creating
        call makes, so that the matrices are loaded on resume (:mod:`ravine.distributed.checkpoint`)."""
        st: dict[str, Tensor] = {}
        self._init(torch.zeros_like(param), st, h)
        return st

    def _init(self, u: Tensor, st: dict, h: Hyper) -> None:
        if h["momentum"] > 0:
            st["momentum_buffer"] = u.clone()
        for i, n in enumerate(u.shape):
            st[f"pre_cond_{i}"] = torch.eye(n, device=u.device).to(u.dtype).mul_(h["matrix_eps"])
            st[f"inv_pre_cond_{i}"] = u.new_zeros(n, n)

    def update(
        self, updates: Sequence[Tensor], params: Sequence[Tensor], states: Sequence[dict], groups: Sequence[Hyper]
    ) -> list[Tensor]:
        out = []
        for u, p, st, h in zip(updates, params, states, groups, strict=True):
            # The first step starts the momentum from u (the reference's choice), also over state that a
            # checkpoint's state-creating call made before it (step 1 is the first real step).
            first = int(st["step"].item()) == 1
            if first or (
                "pre_cond_0" not in st and (p.dim() > 0 or (h["momentum"] > 0 and "momentum_buffer" not in st))
            ):
                self._init(u, st, h)
            g = u.clone()
            if h["momentum"] > 0:
                g.lerp_(st["momentum_buffer"], weight=h["momentum"])
            if h["weight_decay"] != 0:
                g.add_(p, alpha=h["weight_decay"])
            order, shape = g.dim(), g.shape
            stats = g
            recompute = int(st["step"].item()) % h["preconditioning_compute_steps"] == 0
            for i, n in enumerate(shape):
                pre, inv = st[f"pre_cond_{i}"], st[f"inv_pre_cond_{i}"]
                unfolded = stats.movedim(i, 0).reshape(n, -1)
                pre.addmm_(unfolded, unfolded.t())
                g = g.transpose(0, i).contiguous()
                transposed = g.shape
                g = g.view(n, -1)
                if recompute:
                    inv.copy_(inverse_root(pre, 2 * order))
                g = (g.t() @ inv).view(shape) if i == order - 1 else (inv @ g).view(transposed)
            if h["momentum"] > 0:
                st["momentum_buffer"] = g.clone()
            out.append(p.add(g, alpha=-h["lr"]))
        return out
