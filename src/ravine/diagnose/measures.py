"""What the doctor measures on the parameters and gradients: layers, gradient norms, update sizes, step agreement.

Everything here is ``torch.no_grad`` and uses the multi-tensor (``_foreach``) kernels that ``clip_grad_norm_``
uses, so that one call covers all parameters; values stay tensors until the doctor needs numbers (no host sync
per step on accelerators).
"""

from __future__ import annotations

import math
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


class Coordinates:
    """A fixed random subset of each parameter's coordinates (at most ``cap`` per tensor) on which the sampled
    measures -- update sizes, step agreement -- are estimated.

    Norms and inner products over ``m`` random coordinates of an ``n``-vector, scaled by ``n / m``, are
    unbiased estimates of the full ones, and ratios of them (the update ratio, a cosine) are accurate to about
    ``1 / sqrt(m)`` (3% for m = 1024): enough for thresholds that differ by orders of magnitude, at a cost
    that does not grow with the model. Indices come from a private seeded generator: the global random
    state, and so the training run, is untouched.
    """

    def __init__(self, params: Sequence[Tensor], cap: int = 4096, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.index = [
            None if p.numel() <= cap else torch.randint(0, p.numel(), (cap,), generator=g).to(p.device) for p in params
        ]
        self.scale = [1.0 if i is None else p.numel() / cap for p, i in zip(params, self.index, strict=True)]

    @torch.no_grad()
    def take(self, tensors: Sequence[Tensor | None]) -> list[Tensor | None]:
        """The sampled coordinates of each tensor, as new float32 vectors (None stays None)."""
        out: list[Tensor | None] = []
        for t, i in zip(tensors, self.index, strict=True):
            if t is None or t.is_sparse:
                out.append(None)
                continue
            flat = t.detach().reshape(-1)
            out.append(flat.float().clone() if i is None else flat[i].float())
        return out

    def sq_norms(self, vectors: Sequence[Tensor | None]) -> list[float]:
        """Estimated squared L2 norm of each full tensor (0 for None), with one host transfer."""
        present = [(k, v) for k, v in enumerate(vectors) if v is not None]
        out = [0.0] * len(vectors)
        if present:
            norms = torch._foreach_norm([v for _, v in present], 2)
            values = torch.stack([n.to(norms[0].device) for n in norms]).tolist()
            for (k, _), x in zip(present, values, strict=True):
                out[k] = x * x * self.scale[k]
        return out


@torch.no_grad()
def update_ratios(
    coords: Coordinates, before: Sequence[Tensor | None], after: Sequence[Tensor | None], layers: Sequence[Layer]
) -> tuple[float, float, dict[str, float], list[Tensor | None]]:
    """``||dw|| / ||w||`` over all layers' weights and per layer (Karpathy's weights:updates ratio).

    Args:
        coords: the sampled coordinates.
        before, after: the parameters' sampled coordinates before and after the step.
        layers: the layers whose weights count.

    Returns:
        The global ratio, the global weight norm, ``{layer name: ratio}``, and ``-dw`` on the coordinates.
    """
    pairs = [(k, b, a) for k, (b, a) in enumerate(zip(before, after, strict=True)) if b is not None and a is not None]
    neg: list[Tensor | None] = [None] * len(before)
    if pairs:
        diffs = torch._foreach_sub([b for _, b, _ in pairs], [a for _, _, a in pairs])
        for (k, _, _), d in zip(pairs, diffs, strict=True):
            neg[k] = d
    d2, w2 = coords.sq_norms(neg), coords.sq_norms(after)
    per_layer: dict[str, float] = {}
    num = den = 0.0
    for layer in layers:
        dl = sum(d2[i] for i in layer.index)
        wl = sum(w2[i] for i in layer.index)
        num, den = num + dl, den + wl
        per_layer[layer.name] = (dl / wl) ** 0.5 if wl > 0 else float("inf")
    total = (num / den) ** 0.5 if den > 0 else float("nan")
    return total, den**0.5, per_layer, neg


@torch.no_grad()
def step_agreement(coords: Coordinates, grads: Sequence[Tensor | None], neg_update: Sequence[Tensor | None]) -> float:
    """``cos(-g_{t+1}, dw_t) = <g_{t+1}, -dw_t> / (||g_{t+1}|| ||dw_t||)``, on the sampled coordinates: does the
    new gradient still point along the step just taken (> 0: a longer step would have gone further down;
    < 0: the step overshot)?

    It is the normalised hypergradient -dL(w_{t+1})/dlr of Baydin et al. (ICLR 2018, Sec. 2), a cheap,
    optimiser-agnostic stand-in for Cockpit's alpha (Schneider et al., NeurIPS 2021, Sec. 3). NaN when either
    vector is zero or not finite. Parameters without a gradient count as zero gradient.
    """
    return cosine(coords, coords.take(grads), neg_update)


@torch.no_grad()
def cosine(coords: Coordinates, a: Sequence[Tensor | None], b: Sequence[Tensor | None]) -> float:
    """``cos(a, b)`` of two vectors given on the sampled coordinates (NaN when either is zero or not finite).

    Between successive updates, ``cos(dw_{t+1}, dw_t)``, it tells an iterate that bounces across a valley
    (successive steps reverse, cos < 0 for plain SGD beyond ``lr * lambda = 1``) from one that travels along it.
    """
    pairs = [(k, x, y) for k, (x, y) in enumerate(zip(a, b, strict=True)) if x is not None and y is not None]
    if not pairs:
        return float("nan")
    dev = pairs[0][1].device
    prods = torch._foreach_mul([x for _, x, _ in pairs], [y for _, _, y in pairs])
    dots = torch.stack([p.sum().to(dev) for p in prods]).tolist()
    dot = sum(x * coords.scale[k] for (k, _, _), x in zip(pairs, dots, strict=True))
    denom = (sum(coords.sq_norms(a)) * sum(coords.sq_norms(b))) ** 0.5
    ok = denom > 0 and math.isfinite(denom) and math.isfinite(dot)
    return dot / denom if ok else float("nan")


@torch.no_grad()
def all_finite(params: Sequence[Tensor]) -> bool:
    """Whether every parameter is finite: one multi-tensor L2 norm (inf and NaN propagate into it), confirmed
    element-wise only if it overflows (an inf-norm reduction would be ~30x slower on CPU)."""
    if not params:
        return True
    tensors = [p.detach() for p in params]
    norms = torch._foreach_norm(tensors, 2)
    if bool(torch.isfinite(torch.stack([n.to(norms[0].device) for n in norms])).all()):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)
