"""Building blocks of the doctor's fault-injection benchmark: data, models, a training loop, measurements.

The measurements here are independent of the doctor (they recompute gradient norms, dead units, saturation,
Hessians from scratch): they are how each scenario's label is verified.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

import _idx
from ravine.diagnose import Doctor, Report, Trace

_DATA: dict[str, tuple[Tensor, Tensor]] = {}


def images(name: str = "mnist", split: str = "train", n: int | None = None) -> tuple[Tensor, Tensor]:
    """(x, y) of MNIST / Fashion-MNIST, flattened, in [0, 1] (cached)."""
    key = f"{name}/{split}"
    if key not in _DATA:
        _DATA[key] = _idx.load(name, split)
    x, y = _DATA[key]
    return (x[:n], y[:n]) if n else (x, y)


def batches(x: Tensor, y: Tensor, size: int, seed: int) -> Callable[[int], tuple[Tensor, Tensor]]:
    """Mini-batches drawn with replacement from a seeded generator (``size >= len(x)``: the full batch)."""
    g = torch.Generator().manual_seed(seed)
    if size >= len(x):
        return lambda t: (x, y)
    return lambda t: (lambda i: (x[i], y[i]))(torch.randint(0, len(x), (size,), generator=g))


def mlp(
    sizes: list[int],
    act: Callable[[], nn.Module] | None,
    *,
    gain: float | None = None,
    bias: float | None = None,
    last_act: bool = False,
) -> nn.Sequential:
    """A multilayer perceptron; ``gain`` rescales the default weights to std ``gain / sqrt(fan_in)``."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(a, b)
        if gain is not None:
            nn.init.normal_(lin.weight, 0.0, gain / math.sqrt(a))
        if bias is not None and i < len(sizes) - 2:
            nn.init.constant_(lin.bias, bias)
        layers.append(lin)
        if act is not None and (i < len(sizes) - 2 or last_act):
            layers.append(act())
    return nn.Sequential(*layers)


@dataclass
class Run:
    """What a training run left: the doctor's report (None without a doctor), losses, evaluations, the model."""

    report: Report | None
    losses: list[float]
    model: nn.Module
    evals: list[tuple[int, dict[str, float], dict[str, float]]] = field(default_factory=list)
    raw_grad_norms: list[float] = field(default_factory=list)
    trace: Trace | None = None

    def final(self, k: int = 20) -> float:
        """Median of the last ``k`` finite losses (inf if the run ended non-finite)."""
        tail = self.losses[-k:]
        if not all(math.isfinite(v) for v in tail[-3:]):
            return math.inf
        tail = [v for v in tail if math.isfinite(v)]
        return float(torch.tensor(tail).median()) if tail else math.inf

    def first(self, k: int = 5) -> float:
        return float(torch.tensor(self.losses[:k]).median())

    def best(self, k: int = 20) -> float:
        vals = [v for v in self.losses if math.isfinite(v)]
        return min(float(torch.tensor(vals[i : i + k]).median()) for i in range(0, max(1, len(vals) - k + 1), k))


def train(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sample: Callable[[int], tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    steps: int,
    *,
    doctor: bool = True,
    clip: float | None = None,
    lr_at: Callable[[int], float] | None = None,
    evaluate: Callable[[nn.Module], tuple[dict[str, float], dict[str, float]]] | None = None,
    eval_every: int = 50,
    closure: bool = False,
) -> Run:
    """The standard loop of the issue's contract, with the doctor attached (or not, for verification runs)."""
    d = Doctor(model, opt, echo=False) if doctor else None
    run = Run(None, [], model)

    def do_eval(t: int) -> None:
        if evaluate is None:
            return
        model.eval()
        with torch.no_grad():
            tr, va = evaluate(model)
        model.train()
        run.evals.append((t, tr, va))
        if d is not None:
            d.on_eval(train=tr, val=va, step=t)

    do_eval(0)
    for t in range(steps):
        if lr_at is not None:
            for g in opt.param_groups:
                g["lr"] = lr_at(t)
        x, y = sample(t)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if d is not None:
            d.after_backward(loss, closure=(lambda x=x, y=y: loss_fn(model(x), y)) if closure else None)
        if clip is not None:
            run.raw_grad_norms.append(float(nn.utils.clip_grad_norm_(model.parameters(), clip)))
        opt.step()
        if d is not None:
            d.after_step()
        run.losses.append(loss.item())
        if evaluate is not None and ((t + 1) % eval_every == 0 or t == steps - 1):
            do_eval(t + 1)
    if d is not None:
        run.report = d.report()
        run.trace = d.trace
        d.close()
    return run


# -- independent measurements -------------------------------------------------------------------------------
def layer_grad_norms(model: nn.Module, loss: Tensor) -> list[float]:
    """Gradient norm of each weight matrix (dim >= 2), in registration order, for one loss."""
    weights = [p for p in model.parameters() if p.dim() >= 2]
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [float(g.norm()) if g is not None else 0.0 for g in grads]


def activation_outputs(model: nn.Module, x: Tensor, kind: type[nn.Module]) -> list[Tensor]:
    """Outputs of every ``kind`` module on input ``x`` (the model's last activation excluded)."""
    outs: list[Tensor] = []
    handles = [
        m.register_forward_hook(lambda m, i, o: outs.append(o.detach())) for m in model.modules() if isinstance(m, kind)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return outs


def dead_fraction(model: nn.Module, x: Tensor) -> float:
    """Largest fraction, over ReLU layers, of units that output 0 for every input in ``x``."""
    outs = activation_outputs(model, x, nn.ReLU)
    return max(float((o.reshape(o.shape[0], -1) <= 0).all(0).float().mean()) for o in outs)


def saturated_fraction(model: nn.Module, x: Tensor, kind: type[nn.Module], test: Callable[[Tensor], Tensor]) -> float:
    """Largest fraction, over ``kind`` layers, of values for which ``test`` holds."""
    return max(float(test(o).float().mean()) for o in activation_outputs(model, x, kind))


def hessian_extremes(
    model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor]
) -> tuple[float, float]:
    """(lambda_min, lambda_max) of the batch loss Hessian w.r.t. all parameters, in float64: exact for small
    models, by Lanczos (scipy's eigsh on Hessian-vector products) for larger ones."""
    import numpy as np
    from scipy.sparse.linalg import LinearOperator, eigsh

    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = [p.detach().double() for n, p in model.named_parameters() if p.requires_grad]
    flat = torch.cat([p.reshape(-1) for p in params])
    xd = x.double() if x.is_floating_point() else x
    yd = y.double() if y.is_floating_point() else y

    def f(v: Tensor) -> Tensor:
        chunks, i = {}, 0
        for n, p in zip(names, params, strict=True):
            chunks[n] = v[i : i + p.numel()].reshape(p.shape)
            i += p.numel()
        return loss_fn(torch.func.functional_call(model, chunks, (xd,)), yd)

    if flat.numel() <= 1500:
        h = torch.autograd.functional.hessian(f, flat)
        ev = torch.linalg.eigvalsh((h + h.T) / 2)
        return float(ev[0]), float(ev[-1])

    def hvp(v: np.ndarray) -> np.ndarray:
        return torch.autograd.functional.hvp(f, flat, torch.from_numpy(np.ascontiguousarray(v)).double())[1].numpy()

    op = LinearOperator((flat.numel(), flat.numel()), matvec=hvp, dtype=np.float64)
    lmax = float(eigsh(op, k=1, which="LA", tol=1e-4, return_eigenvectors=False)[0])
    lmin = float(eigsh(op, k=1, which="SA", tol=1e-4, return_eigenvectors=False)[0])
    return lmin, lmax
