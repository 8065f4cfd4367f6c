"""Lookahead (Zhang, Lucas, Hinton & Ba, NeurIPS 2019): slow weights that follow any inner optimiser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ravine.rules import _checks


class Lookahead(torch.optim.Optimizer):
    r"""Every ``k`` steps of ``optimizer`` (the fast weights), pull back: ``phi <- phi + alpha (theta - phi)``,
    ``theta <- phi``.

    The inner optimiser explores ``k`` steps ahead; the slow weights ``phi`` move a fraction ``alpha`` of the way
    to where it got, which damps the oscillation of an aggressive inner rate. Works with any torch.optim or
    ravine optimiser; its param_groups *are* the inner optimiser's, so schedulers and ``group["lr"] = x`` reach it.

    Args:
        optimizer: the inner optimiser (an instance).
        k: inner steps per synchronisation, an integer >= 1 (the paper's 5).
        alpha: slow-weight step size in [0, 1] (the paper's 0.5).

    State: ``state[p]["slow_params"]`` (phi) and a step counter per group (``counters``; not in the groups, which
    hold hyperparameters only). The
    pull-back is ``torch._foreach_lerp_`` (``theta <- theta + (phi - theta)(1 - alpha)``), the operation of
    ``pytorch_optimizer.Lookahead``, which the tests match bit for bit.

    ``state_dict()`` is ``{"lookahead_state": ..., "lookahead_counters": [...], "base_optimizer":
    optimizer.state_dict()}``; loading it into a new
    ``Lookahead`` around a fresh inner optimiser resumes the run exactly.

    Reference: Zhang, Lucas, Hinton & Ba, "Lookahead Optimizer: k steps forward, 1 step back", NeurIPS 2019,
    algorithm 1.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer instance, got {type(optimizer).__name__}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer in [1, inf), got {k!r}")
        _checks.closed_unit_interval("alpha", alpha)
        self.optimizer, self.k, self.alpha = optimizer, k, float(alpha)
        self.defaults = {"lookahead_k": k, "lookahead_alpha": alpha, **optimizer.defaults}
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.counters: list[int] = []
        for group in self.param_groups:
            self._init_group(group)
        self._optimizer_step_pre_hooks = {}
        self._optimizer_step_post_hooks = {}
        self._optimizer_state_dict_pre_hooks = {}
        self._optimizer_state_dict_post_hooks = {}
        self._optimizer_load_state_dict_pre_hooks = {}
        self._optimizer_load_state_dict_post_hooks = {}

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return self.optimizer.param_groups

    def _init_group(self, group: dict[str, Any]) -> None:
        self.counters.append(0)
        for p in group["params"]:
            self.state.setdefault(p, {"slow_params": p.detach().clone()})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.optimizer.add_param_group(param_group)
        self._init_group(self.param_groups[-1])

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        loss = self.optimizer.step(closure)
        for i, group in enumerate(self.param_groups):
            self.counters[i] += 1
            if self.counters[i] >= self.k:
                self.counters[i] = 0
                self._pull_back(group)
        return loss

    def _pull_back(self, group: dict[str, Any]) -> None:
        fast = [p for p in group["params"] if p.grad is not None]
        if not fast:
            return
        slow = [self.state[p]["slow_params"] for p in fast]
        torch._foreach_lerp_(fast, slow, 1.0 - self.alpha)
        torch._foreach_copy_(slow, fast)

    def state_dict(self) -> dict[str, Any]:  # type: ignore[override]
        slow = {
            (gi, pi): {k: v.clone() for k, v in self.state[p].items()}
            for gi, group in enumerate(self.param_groups)
            for pi, p in enumerate(group["params"])
            if p in self.state
        }
        return {
            "lookahead_state": slow,
            "lookahead_counters": list(self.counters),
            "base_optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # type: ignore[override]
        saved = state_dict["lookahead_state"]
        params = {(gi, pi): p for gi, g in enumerate(self.param_groups) for pi, p in enumerate(g["params"])}
        if set(saved) != set(params):
            raise ValueError(
                f"the saved Lookahead state covers {len(saved)} parameters, this optimiser has {len(params)}; "
                "load a state_dict saved from the same parameter groups"
            )
        self.optimizer.load_state_dict(state_dict["base_optimizer"])
        self.counters = list(state_dict["lookahead_counters"])
        for key, st in saved.items():
            p = params[key]
            self.state[p] = {k: v.to(device=p.device, dtype=p.dtype).clone() for k, v in st.items()}

    def __repr__(self) -> str:
        return f"Lookahead({self.optimizer!r}, k={self.k}, alpha={self.alpha})"
