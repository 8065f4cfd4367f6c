"""SparseAdam: Adam for sparse gradients, its moments updated only where the gradient is."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from torch import Tensor

from ravine.optim import _torch_checks
from ravine.optim.optimizer import Optimizer
from ravine.rules import chain, flip_sign, scale_by_adam

Params = Iterable[Tensor] | Iterable[dict[str, Any]]


class SparseAdam(Optimizer):
    r"""torch's ``SparseAdam``: the "lazy" Adam of sparse embeddings (``nn.Embedding(sparse=True)``).

    On the rows R that the sparse gradient g touches, and only there:
    ``m_R <- b1 m_R + (1 - b1) g_R``;  ``v_R <- b2 v_R + (1 - b2) g_R^2``;
    ``p_R <- p_R - lr * sqrt(1 - b2^t) / (1 - b1^t) * m_R / (sqrt(v_R) + eps)``,
    with t the parameter's step count. eps sits outside the uncorrected root (Kingma & Ba's "epsilon hat" form),
    as in torch. Dense gradients are refused with torch's error; use :class:`ravine.optim.Adam` for those.

    Args: torch's -- lr (> 0, 1e-3), betas ((0.9, 0.999)), eps (> 0, 1e-8), maximize.
    Chain: ``flip_sign, scale_by_adam(eps_hat=True)`` on the gradient's rows (:mod:`ravine.optim.sparse`).

    References: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (ICLR 2015), algorithm 1 and the end
    of section 2; torch.optim.SparseAdam.
    """

    sparse_only = True

    def __init__(
        self,
        params: Params,
        lr: float | Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        _torch_checks.tensor_lr(lr)
        req = _torch_checks.require
        req(lr > 0.0, f"Invalid learning rate: {lr} (lr must be in (0, inf))")
        req(eps > 0.0, f"Invalid epsilon value: {eps} (eps must be in (0, inf))")
        req(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]} (betas[0] must be in [0, 1))")
        req(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]} (betas[1] must be in [0, 1))")
        super().__init__(
            params, chain(flip_sign(), scale_by_adam(eps_hat=True)), lr=lr, fused=False, group_flags=(),
            betas=betas, eps=eps, maximize=maximize,
        )  # fmt: skip
        where = [
            (kind, [i, j])
            for i, group in enumerate(self.param_groups)
            for j, p in enumerate(group["params"])
            for kind in ("sparse", "complex")
            if (p.is_sparse if kind == "sparse" else p.is_complex())
        ]
        sparse = [ij for kind, ij in where if kind == "sparse"]
        if sparse:
            raise ValueError(f"Sparse params at indices {sparse}: SparseAdam requires dense parameter tensors")
        complex_ = [ij for kind, ij in where if kind == "complex"]
        if complex_:
            raise ValueError(f"Complex params at indices {complex_}: SparseAdam does not support complex parameters")

    def _sparse_mode(self, group: Mapping[str, Any]) -> str | None:
        return "rows"

    def state_dict(self) -> dict[str, Any]:
        """torch's layout, in which SparseAdam's ``step`` is a Python int: torch.optim.SparseAdam computes
        ``beta ** step`` in the step's type, so a tensor step would round its bias corrections to float32.
        ravine's loader turns the int back into a tensor (:meth:`ravine.optim.Optimizer.__setstate__`)."""
        sd = super().state_dict()
        sd["state"] = {k: {**st, "step": int(st["step"])} if "step" in st else st for k, st in sd["state"].items()}
        return sd
