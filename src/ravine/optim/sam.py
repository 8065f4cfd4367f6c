"""Sharpness-aware minimisation: SAM (Foret et al., ICLR 2021) and its scale-invariant form ASAM (Kwon et al. 2021)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks


class SAM(torch.optim.Optimizer):
    r"""Step with the gradient taken at the worst nearby point: two loss evaluations per step.

    ``e = rho * T^2 g / (||T g||_2 + eps)`` over all parameters together (``T = 1`` for SAM, ``T = |p|`` for
    ASAM); ``g' = grad L(p + e)``;  ``p <- base_step(p, g')``. The first gradient must be computed before
    ``step(closure)``; the closure re-evaluates the loss and its gradient (at the perturbed point) and is required.

    Args:
        params: parameters or groups, as for any optimiser.
        base_optimizer: an optimiser class (``torch.optim.SGD``, ``ravine.optim.AdamW``, ...) built on these
            groups with ``**kwargs``, or an optimiser instance over the same parameters.
        rho: neighbourhood radius >= 0 (0.05 in the paper).
        adaptive: ASAM's element-wise scaling ``T = |p|`` (use a larger rho: :class:`ASAM`).
        eps: >= 0, added to the norm (pytorch_optimizer's ``perturb_eps``, 1e-12).

    Usage::

        loss_fn(model(x), y).backward()
        opt.step(lambda: (opt.zero_grad(), loss_fn(model(x), y).backward()))   # loss at p + e, then the step

    The norm is measured per tensor and combined in the parameters' dtype (pytorch_optimizer combines in float32
    even for float64 parameters, so float64 runs agree with it only to float32 rounding of the radius).
    ``first_step``/``second_step`` are public, as in the reference, for training loops that need the two halves
    apart (e.g. with a GradScaler).

    References: Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for Efficiently Improving
    Generalization", ICLR 2021, eq. 2 and algorithm 1; Kwon, Kim, Park & Choi, "ASAM: Adaptive Sharpness-Aware
    Minimization for Scale-Invariant Learning of Deep Neural Networks", ICML 2021, eq. 8.
    """

    needs_closure = True  # for the lab: one evaluation is not a step

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type | torch.optim.Optimizer,
        rho: float = 0.05,
        adaptive: bool = False,
        eps: float = 1e-12,
        **kwargs: Any,
    ) -> None:
        _checks.non_negative("rho", rho)
        _checks.flag("adaptive", adaptive)
        _checks.non_negative("eps", eps)
        super().__init__(params, {"rho": rho, "adaptive": adaptive})
        self.eps = float(eps)
        if isinstance(base_optimizer, torch.optim.Optimizer):
            if kwargs:
                raise TypeError(f"options {sorted(kwargs)} go to the base optimiser's constructor, not to an instance")
            mine = {id(p) for g in self.param_groups for p in g["params"]}
            theirs = {id(p) for g in base_optimizer.param_groups for p in g["params"]}
            if mine != theirs:
                raise ValueError("base_optimizer must optimise the same parameters as SAM")
            for g in base_optimizer.param_groups:
                g.setdefault("rho", rho)
                g.setdefault("adaptive", adaptive)
            self.base_optimizer = base_optimizer
        elif isinstance(base_optimizer, type) and issubclass(base_optimizer, torch.optim.Optimizer):
            self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        else:
            raise TypeError(f"base_optimizer must be an optimiser class or instance, got {base_optimizer!r}")
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state

    @torch.no_grad()
    def _norm(self) -> Tensor:
        """``||T g||_2 + eps`` over every parameter with a gradient: per-tensor norms, then the root of their sum of
        squares, in the parameters' dtype (pytorch_optimizer takes the second half in float32 whatever the dtype)."""
        grads = [
            p.grad * p.abs() if group["adaptive"] else p.grad
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        norms = torch._foreach_norm(grads) if grads else []
        if not norms:
            return torch.full((), self.eps)
        dtype = torch.float64 if any(n.dtype == torch.float64 for n in norms) else torch.float32
        device = norms[0].device
        return torch.stack([n.to(device, dtype) for n in norms]).square().sum().sqrt() + self.eps

    @torch.no_grad()
    def first_step(self, zero_grad: bool = False) -> None:
        """Move to ``p + e`` and remember ``p``."""
        norm = self._norm()
        for group in self.param_groups:
            _checks.non_negative("rho", group["rho"])
            scale = group["rho"] / norm
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.clone()
                s = scale.to(p)
                e = p * p * p.grad * s if group["adaptive"] else p.grad * s
                p.add_(e)
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = False) -> None:
        """Back to ``p`` and take the base optimiser's step with the gradient measured at ``p + e``."""
        for group in self.param_groups:
            for p in group["params"]:
                old = self.state[p].pop("old_p", None)
                if old is not None:
                    p.copy_(old)
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """``first_step``, ``closure()`` (loss and gradient at p + e), ``second_step``; returns the closure's loss."""
        if closure is None:
            raise ValueError(
                "SAM.step needs a closure that recomputes the loss and its gradient (two evaluations per step): "
                "opt.step(lambda: (opt.zero_grad(), loss_fn().backward()))"
            )
        self.first_step(zero_grad=True)
        with torch.enable_grad():
            loss = closure()
        self.second_step()
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base_optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        return self.base_optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        self.base_optimizer.load_state_dict(state_dict)
        self.param_groups = self.base_optimizer.param_groups
        self.state = self.base_optimizer.state


class ASAM(SAM):
    """Adaptive SAM (Kwon et al., ICML 2021): :class:`SAM` with ``adaptive=True`` and the larger default radius
    ``rho = 0.5`` that the ASAM authors' CIFAR example uses (the neighbourhood is relative to |p|)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type | torch.optim.Optimizer,
        rho: float = 0.5,
        eps: float = 1e-12,
        **kwargs: Any,
    ) -> None:
        super().__init__(params, base_optimizer, rho=rho, adaptive=True, eps=eps, **kwargs)
