"""What the doctor measures on the parameters and gradients: layers, gradient norms, update sizes, step agreement.

Everything here is ``torch.no_grad`` and uses the multi-tensor (``_foreach``) kernels that ``clip_grad_norm_``
uses, so that one call covers all parameters; values stay tensors until the doctor needs numbers (no host sync
per step on accelerators).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

SPARSE_LAYERS = (nn.Embedding, nn.EmbeddingBag)


@dataclass(frozen=True)
class Layer:
    """A module that owns weight matrices (parameters with >= 2 dimensions): what "first" and "last" layer mean.

    Attributes:
        name: qualified module name (``"net.0"``), or the class name for the root module.
        type: the module's class name.
        index: positions of its weights in the doctor's parameter list.
        sparse: an embedding, whose gradient touches only the rows a batch uses (never the "first layer").
    """

    name: str
    type: str
    index: tuple[int, ...]
    sparse: bool


def trainable_params(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    """The optimiser's parameters that require grad, each once, in parameter-group order."""
    seen: set[int] = set()
    out = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if isinstance(p, Tensor) and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def discover_layers(model: nn.Module, params: Sequence[Tensor]) -> list[Layer]:
    """The modules of ``model`` that own weight matrices among ``params``, in registration order."""
    position = {id(p): i for i, p in enumerate(params)}
    layers = []
    for name, module in model.named_modules():
        index = tuple(position[id(p)] for p in module.parameters(recurse=False) if p.dim() >= 2 and id(p) in position)
        if index:
            layers.append(
                Layer(name or type(module).__name__, type(module).__name__, index, isinstance(module, SPARSE_LAYERS))
            )
    return layers


def module_names(model: nn.Module) -> dict[int, str]:
    """``{id(module): qualified name}`` (the root is named after its class)."""
    return {id(m): (n or type(m).__name__) for n, m in model.named_modules()}


@torch.no_grad()
def grad_norms(grads: Sequence[Tensor]) -> tuple[Tensor, list[Tensor]]:
    """The global L2 norm of ``grads`` and the norm of each (float32, on the first gradient's device).

    Sparse gradients (``nn.Embedding(sparse=True)``) are measured on their stored values.
    """
    dense = [g for g in grads if not g.is_sparse]
    norms = list(torch._foreach_norm(dense, 2, dtype=torch.float32)) if dense else []
    if len(dense) != len(grads):
        it = iter(norms)
        norms = [
            torch.linalg.vector_norm(g.coalesce().values(), dtype=torch.float32) if g.is_sparse else next(it)
            for g in grads
        ]
    if not norms:
        return torch.zeros(()), []
    device = norms[0].device
    total = torch.linalg.vector_norm(torch.stack([n.to(device) for n in norms]))
    return total, norms


@torch.no_grad()
def snapshot(params: Sequence[Tensor]) -> list[Tensor]:
    """Copies of ``params`` (the weights before a step)."""
    return [p.detach().clone() for p in params]


@torch.no_grad()
def take_update(params: Sequence[Tensor], before: list[Tensor]) -> None:
    """Turn ``before`` into ``before - after = -dw`` in place (one multi-tensor subtraction)."""
    torch._foreach_sub_(before, [p.detach() for p in params])


def _sq_norm(tensors: Sequence[Tensor]) -> Tensor:
    norms = torch._foreach_norm(list(tensors), 2, dtype=torch.float32)
    return torch.stack([n.to(norms[0].device) for n in norms]).double().square().sum()


@torch.no_grad()
def update_ratios(
    params: Sequence[Tensor], neg_update: Sequence[Tensor], layers: Sequence[Layer]
) -> tuple[float, float, dict[str, float]]:
    """``||dw|| / ||w||`` over all layers' weights and per layer (Karpathy's weights:updates ratio).

    Args:
        params: the doctor's parameter list (after the step).
        neg_update: ``-dw`` for each parameter, as left by :func:`take_update`.
        layers: the layers whose weights count.

    Returns:
        The global ratio, the global weight norm, and ``{layer name: ratio}``.
    """
    per_layer: dict[str, float] = {}
    num = den = 0.0
    for layer in layers:
        d = _sq_norm([neg_update[i] for i in layer.index]).item()
        w = _sq_norm([params[i] for i in layer.index]).item()
        num, den = num + d, den + w
        per_layer[layer.name] = (d / w) ** 0.5 if w > 0 else float("inf")
    total = (num / den) ** 0.5 if den > 0 else float("nan")
    return total, den**0.5, per_layer


@torch.no_grad()
def step_agreement(grads: Sequence[Tensor], neg_update: Sequence[Tensor]) -> float:
    """``cos(-g_{t+1}, dw_t) = <g_{t+1}, -dw_t> / (||g_{t+1}|| ||dw_t||)``: does the new gradient still point
    along the step just taken (> 0: a longer step would have gone further down; < 0: the step overshot)?

    It is the normalised hypergradient -dL(w_{t+1})/dlr of Baydin et al. (ICLR 2018, Sec. 2), a cheap,
    optimiser-agnostic stand-in for Cockpit's alpha (Schneider et al., NeurIPS 2021, Sec. 3). NaN when either
    vector is zero or not finite.
    """
    pairs = [(g, d) for g, d in zip(grads, neg_update, strict=True) if g is not None and not g.is_sparse]
    if not pairs:
        return float("nan")
    gs, ds = [g for g, _ in pairs], [d for _, d in pairs]
    dots = [torch.sum(g.float() * d.float()) for g, d in pairs]
    dot = torch.stack([x.to(dots[0].device) for x in dots]).sum()
    denom = (_sq_norm(gs) * _sq_norm(ds)).sqrt()
    value = (dot / denom).item()
    return value if denom.item() > 0 else float("nan")


@torch.no_grad()
def all_finite(params: Sequence[Tensor]) -> bool:
    """Whether every parameter is finite (one multi-tensor max-norm: inf and NaN propagate into it)."""
    if not params:
        return True
    norms = torch._foreach_norm([p.detach() for p in params], float("inf"))
    return bool(torch.isfinite(torch.stack([n.to(norms[0].device) for n in norms])).all().item())
