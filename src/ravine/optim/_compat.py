"""torch.optim keyword arguments that ravine accepts for drop-in use, and the ones it must refuse."""

from __future__ import annotations


def check_torch_flags(
    name: str, foreach: bool | None = None, capturable: bool = False, differentiable: bool = False
) -> None:
    """``foreach`` is accepted and ignored (ravine picks its own execution); ``capturable`` is checked here and
    passed on (see :class:`ravine.optim.Optimizer`); ``differentiable`` is not supported."""
    if foreach not in (None, True, False):
        raise ValueError(f"foreach must be None, True or False, got {foreach!r}")
    if capturable not in (True, False):
        raise ValueError(f"{name}: capturable must be True or False, got {capturable!r}")
    if differentiable:
        raise ValueError(f"{name}: differentiable=True is not supported by ravine; use torch.optim.{name}")
