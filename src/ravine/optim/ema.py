"""``ravine.optim.EMA``: an exponential moving average of a model's weights, updated by one fused kernel."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import torch
from torch import Tensor, nn

from ravine.optim.optimizer import Optimizer
from ravine.rules import _checks
from ravine.rules.ema import ema_toward


class EMA(nn.Module):
    r"""``W_ema <- decay * W_ema + (1 - decay) * W`` after each optimiser step; ``W_ema = W`` at the first update.

    ``torch.optim.swa_utils.AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))`` with the same
    interface (``module``, ``n_averaged``, ``forward``, ``update_parameters(model)``, ``use_buffers``) and the same
    bits, but the average of all floating-point tensors is one generated C kernel call (the :class:`ema_toward`
    rule through a ravine optimiser) instead of a foreach lerp per device and dtype group.

    Args:
        model: the model to average; a deep copy is kept in ``self.module``.
        decay: in [0, 1] (0.999).
        use_buffers: average the buffers too (BatchNorm's running statistics); otherwise they are copied.
        fused: as in :class:`ravine.optim.Optimizer` (None: the kernel once built, the same bits before).

    Example:
        >>> import torch, ravine
        >>> model = torch.nn.Linear(4, 2)
        >>> ema = ravine.optim.EMA(model, decay=0.99)
        >>> ema.update_parameters(model)   # after each opt.step()
        >>> _ = ema(torch.ones(1, 4))       # evaluate with the averaged weights

    Reference: Polyak & Juditsky (1992) for averaging; the EMA form as in ``torch.optim.swa_utils``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999, use_buffers: bool = False, *, fused: bool | None = None):
        super().__init__()
        _checks.closed_unit_interval("decay", decay)
        _checks.flag("use_buffers", use_buffers)
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))
        self.decay, self.use_buffers = float(decay), use_buffers
        floats = [t for t in self._tensors(self.module) if t.is_floating_point() or t.is_complex()]
        # The averaged tensors are the "parameters" of an optimiser whose "gradient" is the live tensor.
        self._avg = Optimizer(floats, ema_toward(), lr=0.0, fused=fused, decay=self.decay) if floats else None

    def _tensors(self, model: nn.Module) -> list[Tensor]:
        return (
            list(itertools.chain(model.parameters(), model.buffers())) if self.use_buffers else list(model.parameters())
        )

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average ``model``'s current weights into ``self.module`` (copy them at the first call)."""
        mine, theirs = self._tensors(self.module), self._tensors(model)
        if len(mine) != len(theirs):
            raise ValueError(
                f"model has {len(theirs)} tensors to average, the EMA copy {len(mine)}: not the same model"
            )
        first = int(self.n_averaged) == 0
        floats = []
        for a, b in zip(mine, theirs, strict=True):
            b = b.detach().to(a.device)
            if first:
                a.detach().copy_(b)
            elif a.is_floating_point() or a.is_complex():
                floats.append((a, b))
            else:  # integer buffers (num_batches_tracked), as AveragedModel does them
                a.copy_(a * self.decay + b * (1 - self.decay))
        if floats and self._avg is not None:
            self._avg.param_groups[0]["decay"] = self.decay
            for a, b in floats:
                a.grad = b
            self._avg.step()
            for a, _ in floats:
                a.grad = None
        if not self.use_buffers:
            for a, b in zip(self.module.buffers(), model.buffers(), strict=True):
                a.detach().copy_(b.detach().to(a.device))
        self.n_averaged += 1
