"""Gradient accumulation: k micro-batches per optimiser step, counted as one step by everything that counts."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


class GradientAccumulation:
    """Step ``optimizer`` once every ``micro_batches`` calls of :meth:`step`, on the mean of their gradients.

    autograd sums the gradients of successive ``backward()`` calls into ``p.grad``; this wrapper lets them sum
    (its :meth:`zero_grad` does nothing between real steps), divides the sum by k, and calls the wrapped
    optimiser's ``step()`` once. The optimiser therefore sees one step per k micro-batches, so its schedules
    (``lr=schedule``), weight decay, Adam's bias correction ``1 - beta^t`` and ``state["step"]`` count real steps,
    never micro-steps (the bug of keras#19990 and accelerate#963). With equal micro-batches of size B and a mean
    loss, this is the step of one batch of k B examples, up to the rounding of summing in another order.

    A torch LR scheduler must also count real steps: call ``scheduler.step()`` only when :attr:`stepped`.

    Args:
        optimizer: any ``torch.optim.Optimizer`` (torch's or ravine's).
        micro_batches: k >= 1 backward passes per optimiser step.
        average: divide the summed gradients by k (for a mean loss per micro-batch); False if the loss is
            already divided by k, or summed over examples and divided by the total count.

    Raises ``RuntimeError`` from :meth:`step` if a gradient was reset between micro-batches (say by
    ``model.zero_grad()`` or the wrapped optimiser's ``zero_grad()``), which would silently drop micro-batches.

    Example:
        >>> import torch, ravine
        >>> from ravine.schedules import cosine
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = ravine.optim.GradientAccumulation(ravine.optim.AdamW(model.parameters(), lr=cosine(1e-3, 100)), 4)
        >>> for x in torch.randn(8, 16, 4).split(1):   # 8 micro-batches of 16
        ...     model(x[0]).pow(2).mean().backward()
        ...     _ = opt.step()
        ...     opt.zero_grad()
        >>> opt.optimizer.param_groups[0]["scheduled_steps"]   # two real steps
        2
    """

    def __init__(self, optimizer: torch.optim.Optimizer, micro_batches: int, *, average: bool = True) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if isinstance(micro_batches, bool) or not isinstance(micro_batches, int) or micro_batches < 1:
            raise ValueError(f"micro_batches must be an integer >= 1, got {micro_batches!r}")
        if not isinstance(average, bool):
            raise ValueError(f"average must be True or False, got {average!r}")
        self.optimizer = optimizer
        self.micro_batches = micro_batches
        self.average = average
        self.micro_step = 0  # micro-batches summed since the last real step
        self.stepped = False  # whether the latest step() stepped the optimiser
        self._grads: list[weakref.ref | None] = []

    # -- torch.optim's contract -------------------------------------------------------------------------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def state(self) -> Any:
        return self.optimizer.state

    @property
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Count one micro-batch (``closure``, if given, runs its forward and backward); every k-th call steps.

        Returns what the closure returned, as ``torch.optim`` does.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        self._check_not_reset(params)
        self.micro_step += 1
        if self.micro_step < self.micro_batches:
            self._grads = [None if p.grad is None else weakref.ref(p.grad) for p in params]
            self.stepped = False
            return loss
        if self.average and self.micro_batches > 1:
            for p in params:
                if p.grad is not None:
                    p.grad.div_(self.micro_batches)
        self.optimizer.step()
        self.micro_step = 0
        self._grads = []
        self.stepped = True
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimiser's ``zero_grad`` right after a real step; nothing in between (gradients sum)."""
        if self.micro_step == 0:
            self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimiser's state dict and k. Only between real steps: a partial sum lives in ``p.grad``."""
        if self.micro_step:
            raise RuntimeError(
                f"state_dict() after {self.micro_step} of {self.micro_batches} micro-batches would lose their "
                f"gradients; save right after a real step (when .stepped is True)"
            )
        return {"optimizer": self.optimizer.state_dict(), "micro_batches": self.micro_batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get("micro_batches") != self.micro_batches:
            raise ValueError(
                f"micro_batches: the state was saved with {state_dict.get('micro_batches')!r}, "
                f"this wrapper takes {self.micro_batches}"
            )
        self.optimizer.load_state_dict(state_dict["optimizer"])
        self.micro_step = 0
        self.stepped = False
        self._grads = []

    def __repr__(self) -> str:
        return f"GradientAccumulation({self.optimizer!r}, micro_batches={self.micro_batches}, average={self.average})"

    # -- internals --------------------------------------------------------------------------------------------
    def _check_not_reset(self, params: list[Tensor]) -> None:
        # autograd adds into the same .grad tensor; a different (or no) tensor means someone reset it.
        # Gradients built with create_graph=True are replaced out of place by autograd, so they are not checked.
        for p, ref in zip(params, self._grads, strict=False):
            if ref is None:
                continue
            old = ref()
            if p.grad is not old and not (p.grad is not None and p.grad.requires_grad):
                raise RuntimeError(
                    f"a gradient was reset after micro-batch {self.micro_step} of {self.micro_batches}: call "
                    f"zero_grad() on the GradientAccumulation wrapper (it waits for the real step), not on the "
                    f"optimiser or the model"
                )
