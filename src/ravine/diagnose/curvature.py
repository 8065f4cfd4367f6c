"""The curvature probe: extreme Hessian eigenvalues of a batch loss, and how close the optimiser is to instability.

Power iteration on Hessian-vector products (Pearlmutter 1994: ``Hv = d/dw <grad L(w), v>``, one double
backward each) gives the eigenvalue of largest magnitude; the same iteration on ``H - lambda I`` gives the other
end of the spectrum. The probe needs a *closure* that recomputes the current batch's loss (forward only); it
runs with the random-number state forked and every module buffer (BatchNorm statistics) restored, so that the
training run is bit-for-bit the one it would have been without it.

Stability (Cohen et al., ICLR 2021, Sec. 2; Cohen et al. 2022, "Adaptive gradient methods at the edge of
stability", Sec. 2): an update ``w <- w - D m`` with momentum on a quadratic with Hessian ``H`` is stable iff the
largest eigenvalue of ``D^1/2 H D^1/2`` stays below a limit that depends on the momentum form:

* gradient descent: ``2``;
* heavy ball ``b <- beta b + (1 - dampening) g`` (torch SGD): ``2 (1 + beta) / (1 - dampening)``;
* Nesterov (torch SGD ``nesterov=True``): ``2 (1 + beta) / (1 + 2 beta)``;
* Adam-style EMA momentum: ``(2 + 2 beta1) / (1 - beta1)`` (38 for beta1 = 0.9), with
  ``D = lr / ((1 - beta1^t)(sqrt(v_hat) + eps))`` from the optimiser's state.

``edge_ratio`` is that eigenvalue over the limit: above 1, the iterate is pushed out along the sharpest
direction every step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Curvature:
    """One probe's result: ``hessian_max``/``hessian_min`` of the batch loss, ``edge_ratio`` (None when the
    optimiser's stability limit is unknown), the limit's form, and the number of Hessian-vector products used."""

    hessian_max: float
    hessian_min: float
    edge_ratio: float | None
    stability: str
    hvps: int


@contextlib.contextmanager
def isolated(model: nn.Module) -> Iterator[None]:
    """Run model code without side effects on training: RNG forked, buffers (BatchNorm statistics) restored."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            with torch.no_grad():
                for b, copy in saved:
                    b.copy_(copy)


def _dot(a: Sequence[Tensor], b: Sequence[Tensor]) -> float:
    return float(sum(torch.sum(x.double() * y.double()) for x, y in zip(a, b, strict=True)))


def _power(
    hvp: Callable[[list[Tensor]], list[Tensor]],
    like: Sequence[Tensor],
    iters: int,
    tol: float,
    shift: float,
    generator: torch.Generator,
) -> tuple[float, int]:
    """Dominant eigenvalue of ``H - shift I`` by power iteration with Rayleigh quotients; returns it + shift."""
    v = [torch.randn(p.shape, generator=generator, dtype=torch.float64).to(p) for p in like]
    norm = _dot(v, v) ** 0.5
    v = [x / norm for x in v]
    lam, used = 0.0, 0
    for i in range(iters):
        hv = hvp(v)
        used += 1
        if shift:
            hv = [h - shift * x for h, x in zip(hv, v, strict=True)]
        new = _dot(v, hv)
        norm = _dot(hv, hv) ** 0.5
        if not norm > 0:
            return shift + new, used
        v = [h / norm for h in hv]
        if i > 0 and abs(new - lam) <= tol * max(abs(new), 1e-30):
            lam = new
            break
        lam = new
    return shift + lam, used


def _uniform(scales: Sequence[Tensor]) -> float | None:
    """The common value if every scale tensor holds one and the same number, else None."""
    first = float(scales[0].flatten()[0])
    return first if all(bool((s == first).all()) for s in scales) else None


def stability_scales(
    optimizer: torch.optim.Optimizer, params: Sequence[Tensor]
) -> tuple[list[Tensor], float, str] | None:
    """The per-coordinate step sizes ``D`` of the optimiser's update, its stability limit and a label.

    Returns None for an optimiser whose update the doctor does not know (the edge ratio is then skipped).
    """
    group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
    scales: list[Tensor] = []
    limit, label = None, ""
    for p in params:
        g = group_of.get(id(p))
        if g is None:
            return None
        lr = float(g["lr"])
        st = optimizer.state.get(p, {})
        if "exp_avg_sq" in st and "betas" in g:
            b1, b2 = (float(b) for b in g["betas"])
            t = float(st.get("step", 1))
            v = st.get("max_exp_avg_sq", st["exp_avg_sq"])
            denom = (v / (1 - b2**t)).sqrt() + float(g.get("eps", 1e-8))
            scales.append(lr / ((1 - b1**t) * denom))
            limit, label = (2 + 2 * b1) / (1 - b1), f"Adam-style momentum beta1={b1:g}: (2+2 beta1)/(1-beta1)"
        elif "square_avg" in st and "acc_delta" in st:
            eps = float(g.get("eps", 1e-6))
            scales.append(lr * (st["acc_delta"] + eps).sqrt() / (st["square_avg"] + eps).sqrt())
            limit, label = 2.0, "Adadelta (no momentum): 2"
        elif "square_avg" in st:
            eps = float(g.get("eps", 1e-8))
            avg = st["square_avg"] - st["grad_avg"].square() if "grad_avg" in st else st["square_avg"]
            scales.append(lr / (avg.clamp_min(0).sqrt() + eps))
            beta = float(g.get("momentum", 0.0))
            limit, label = 2 * (1 + beta), f"RMSprop, heavy-ball momentum {beta:g}: 2(1+beta)"
        elif "sum" in st:
            eps = float(g.get("eps", 1e-10))
            clr = lr / (1 + (float(st.get("step", 1)) - 1) * float(g.get("lr_decay", 0.0)))
            scales.append(clr / (st["sum"].sqrt() + eps))
            limit, label = 2.0, "Adagrad (no momentum): 2"
        elif "momentum" in g and "betas" not in g:
            beta, damp = float(g["momentum"]), float(g.get("dampening", 0.0))
            scales.append(torch.full_like(p, lr * (1 - damp)))
            if g.get("nesterov", False):
                limit, label = 2 * (1 + beta) / (1 + 2 * beta), f"SGD, Nesterov {beta:g}: 2(1+beta)/(1+2beta)"
            elif beta > 0:
                limit, label = 2 * (1 + beta), f"SGD, heavy ball {beta:g}: 2(1+beta)"
            else:
                limit, label = 2.0, "gradient descent: 2"
        else:
            return None
    if limit is None:
        return None
    return [s.detach() for s in scales], limit, label


def probe(
    closure: Callable[[], Tensor],
    model: nn.Module,
    params: Sequence[Tensor],
    optimizer: torch.optim.Optimizer | None = None,
    *,
    iters: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
) -> Curvature:
    """Extreme Hessian eigenvalues of ``closure()`` at the current weights, and the optimiser's edge ratio.

    Args:
        closure: recomputes the batch loss (forward only; the probe differentiates it and never touches
            ``.grad``).
        model: the model (for isolation: RNG and buffers).
        params: the parameters to differentiate with respect to.
        optimizer: for the stability limit and preconditioner (None: no edge ratio).
        iters: power iterations per eigenvalue.
        tol: relative change of the Rayleigh quotient that stops an iteration.
        seed: seed of the starting vectors (the probe is deterministic).

    Returns:
        A :class:`Curvature`.
    """
    params = [p for p in params if p.requires_grad]
    gen = torch.Generator().manual_seed(seed)
    with isolated(model), torch.enable_grad():
        loss = closure()
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise ValueError("closure must return the batch loss as a 1-element tensor")
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        live = [(p, g) for p, g in zip(params, grads, strict=True) if g is not None and g.requires_grad]
        ps, gs = [p for p, _ in live], [g for _, g in live]
        if not ps:
            return Curvature(0.0, 0.0, None, "no parameter has curvature", 0)

        def hvp(v: list[Tensor]) -> list[Tensor]:
            out = torch.autograd.grad(gs, ps, grad_outputs=v, retain_graph=True, allow_unused=True)
            return [torch.zeros_like(p) if h is None else h.detach() for p, h in zip(ps, out, strict=True)]

        top, n1 = _power(hvp, ps, iters, tol, 0.0, gen)
        other, n2 = _power(hvp, ps, iters, tol, top, gen)
        lam_max, lam_min = max(top, other), min(top, other)
        used = n1 + n2
        edge, label = None, "unknown optimiser"
        found = stability_scales(optimizer, ps) if optimizer is not None else None
        if found is not None:
            scales, limit, label = found
            c = _uniform(scales)
            if c is not None:  # D = c I: the preconditioned sharpness is c * lambda_max, no extra products
                sharp = c * lam_max
            else:
                root = [s.sqrt() for s in scales]

                def scaled(v: list[Tensor]) -> list[Tensor]:
                    hv = hvp([r * x for r, x in zip(root, v, strict=True)])
                    return [r * h for r, h in zip(root, hv, strict=True)]

                sharp, n3 = _power(scaled, ps, iters, tol, 0.0, gen)
                used += n3
            edge = sharp / limit
    return Curvature(lam_max, lam_min, edge, label, used)
