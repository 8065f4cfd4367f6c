"""Parameter groups that leave biases and normalisation weights out of weight decay (pytorch#1402)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from ravine.rules import _checks

NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)


def param_groups_without_decay(
    model: nn.Module,
    weight_decay: float,
    *,
    skip: Iterable[str] = (),
    include_embeddings: bool = True,
) -> list[dict[str, Any]]:
    """Two parameter groups: decayed weights, and biases plus normalisation parameters with decay 0.

    Decaying a bias or a norm layer's scale pulls it towards 0 for no regularisation benefit (the network's
    function is not simpler for it); most training recipes exclude them (e.g. BERT, GPT-2, timm).

    Args:
        model: the module whose parameters to split (shared parameters are listed once).
        weight_decay: >= 0, the decay of the first group.
        skip: extra parameter names (as in ``model.named_parameters()``) to exclude from decay.
        include_embeddings: if False, ``nn.Embedding`` weights are excluded too.

    Returns:
        ``[{"params": [...], "param_names": [...], "weight_decay": weight_decay},
        {"params": [...], "param_names": [...], "weight_decay": 0.0}]`` for any torch or ravine optimiser.

    Example:
        >>> import torch, ravine
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> groups = ravine.optim.param_groups_without_decay(net, 0.1)
        >>> [len(g["params"]) for g in groups]
        [1, 3]
        >>> opt = ravine.optim.AdamW(groups, lr=1e-3)
    """
    _checks.non_negative("weight_decay", weight_decay)
    skip = set(skip)
    names = {n for n, _ in model.named_parameters()}
    unknown = skip - names
    if unknown:
        raise ValueError(f"skip names parameters the model does not have: {sorted(unknown)}")
    decay: dict[int, tuple[str, Any]] = {}
    no_decay: dict[int, tuple[str, Any]] = {}
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if id(p) in decay or id(p) in no_decay:
                continue
            excluded = (
                p_name == "bias"
                or isinstance(module, NORM_LAYERS)
                or (not include_embeddings and isinstance(module, nn.Embedding))
                or full in skip
            )
            (no_decay if excluded else decay)[id(p)] = (full, p)
    return [
        {
            "params": [p for _, p in decay.values()],
            "param_names": [n for n, _ in decay.values()],
            "weight_decay": weight_decay,
        },
        {
            "params": [p for _, p in no_decay.values()],
            "param_names": [n for n, _ in no_decay.values()],
            "weight_decay": 0.0,
        },
    ]
