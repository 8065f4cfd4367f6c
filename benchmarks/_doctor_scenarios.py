"""The doctor's fault-injection scenarios: each injects one fault (or none, for the hard healthy runs) and
verifies its label by a measurement that does not use the doctor.

A scenario function returns ``(run, verified, measurement)``: the run with the doctor attached, whether the
label held up, and the numbers that say so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from _doctor_runs import (
    Run,
    batches,
    dead_fraction,
    hessian_extremes,
    images,
    layer_grad_norms,
    mlp,
    saturated_fraction,
    train,
)

CE = F.cross_entropy
MSE = F.mse_loss
Result = tuple[Run, bool, str]


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str | None
    data: str
    about: str
    fn: Callable[[], Result]


SCENARIOS: list[Scenario] = []


def scenario(label: str | None, data: str, about: str) -> Callable[[Callable[[], Result]], Callable[[], Result]]:
    def register(fn: Callable[[], Result]) -> Callable[[], Result]:
        SCENARIOS.append(Scenario(fn.__name__, label, data, about, fn))
        return fn

    return register


def far_lower(a: float, b: float, factor: float = 0.5) -> bool:
    """``b`` is far lower than ``a``: at most ``factor`` of it (a non-finite ``a`` counts as infinitely high)."""
    return math.isfinite(b) and (not math.isfinite(a) or b <= factor * a)


def teacher(n: int, d: int, seed: int, noise: float = 0.0, width: int = 16) -> tuple[Tensor, Tensor]:
    """A regression task y = tanh-MLP teacher(x) + noise, inputs N(0, I)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w1 = torch.randn(d, width, generator=g) / math.sqrt(d)
    w2 = torch.randn(width, 1, generator=g) / math.sqrt(width)
    y = torch.tanh(x @ w1 * 2) @ w2
    return x, y + noise * torch.randn(n, 1, generator=g)


def linreg(n: int, d: int, seed: int, cond: float = 30.0, noise: float = 0.1) -> tuple[Tensor, Tensor, float]:
    """An ill-conditioned linear regression and the largest Hessian eigenvalue of its mean-squared loss."""
    g = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, math.log10(math.sqrt(cond)), d)
    x = torch.randn(n, d, generator=g) * scales
    y = x @ torch.randn(d, 1, generator=g) + noise * torch.randn(n, 1, generator=g)
    lam = float(torch.linalg.eigvalsh(2 * x.T @ x / n)[-1])  # Hessian of mean (xw - y)^2 is 2 X^T X / n
    return x, y, lam


def seed(s: int) -> None:
    torch.manual_seed(s)


# -- divergence -----------------------------------------------------------------------------------------------
@scenario("divergence", "mnist", "tanh MLP, SGD momentum 0.9 at lr 3")
def div_tanh_momentum() -> Result:
    x, y = images("mnist", n=20000)
    seed(1)
    m = mlp([784, 128, 128, 10], nn.Tanh)
    run = train(m, torch.optim.SGD(m.parameters(), lr=3.0, momentum=0.9), batches(x, y, 64, 1), CE, 400)
    seed(1)
    m2 = mlp([784, 128, 128, 10], nn.Tanh)
    ref = train(
        m2, torch.optim.SGD(m2.parameters(), lr=0.03, momentum=0.9), batches(x, y, 64, 1), CE, 400, doctor=False
    )
    low = min(run.first(), run.best())
    ok = (not math.isfinite(run.final()) or run.final() >= 4 * low) and far_lower(run.final(), ref.final())
    return run, ok, f"final {run.final():.3g} vs best {low:.3g}; lr 0.03 ends at {ref.final():.3g}"


@scenario("divergence", "synthetic", "linear regression, full-batch GD at lr = 2.2 / lambda_max")
def div_linreg_gd() -> Result:
    x, y, lam = linreg(512, 20, 2)
    seed(2)
    m = nn.Linear(20, 1)
    run = train(m, torch.optim.SGD(m.parameters(), lr=2.2 / lam), batches(x, y, 512, 2), MSE, 300)
    ok = not math.isfinite(run.final()) or run.final() >= 4 * run.best()
    return run, ok, f"lr * lambda_max = 2.2 (lambda_max {lam:.3g} exact); final {run.final():.3g}"


@scenario(
    "divergence", "fashion", "GELU MLP, SGD momentum, lr grows 2% per step from 0.01 (a warm-up that never stops)"
)
def div_lr_ramp() -> Result:
    x, y = images("fashion-mnist", n=20000)
    seed(3)
    m = mlp([784, 256, 10], nn.GELU)
    run = train(
        m,
        torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9),
        batches(x, y, 128, 3),
        CE,
        500,
        lr_at=lambda t: 0.01 * 1.02**t,
    )
    ok = not math.isfinite(run.final()) or run.final() >= 4 * run.best()
    return run, ok, f"lr reaches {0.01 * 1.02**499:.3g}; final {run.final():.3g} vs best {run.best():.3g}"


@scenario("divergence", "synthetic", "linear regression, Adam at lr 1: the loss creeps back up 200-fold")
def div_adam_linreg() -> Result:
    x, y, _ = linreg(4096, 20, 29, cond=10)
    seed(29)
    m = nn.Linear(20, 1)
    run = train(m, torch.optim.Adam(m.parameters(), lr=1.0), batches(x, y, 64, 29), MSE, 400)
    ok = not math.isfinite(run.final()) or run.final() >= 4 * min(run.first(), run.best())
    return run, ok, f"final {run.final():.3g} vs best {run.best():.3g}"


# -- exploding gradients ------------------------------------------------------------------------------------------
class SeqRegressor(nn.Module):
    """An RNN reading a sequence, a linear head on its last state."""

    def __init__(self, d: int, h: int, recurrent_gain: float, cell: str = "relu") -> None:
        super().__init__()
        self.rnn = (
            nn.RNN(d, h, nonlinearity=cell, batch_first=True)
            if cell in ("relu", "tanh")
            else nn.GRU(d, h, batch_first=True)
        )
        if cell in ("relu", "tanh"):
            nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=recurrent_gain)
        self.head = nn.Linear(h, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def sequences(n: int, t: int, d: int, seed_: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed_)
    x = torch.randn(n, t, d, generator=g)
    return x, x[:, :, 0].mean(1, keepdim=True) * 3


def _raw_norm(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor]) -> float:
    return float(
        torch.linalg.vector_norm(torch.stack([torch.tensor(v) for v in layer_grad_norms(model, loss_fn(model(x), y))]))
    )


@scenario(
    "exploding_gradients", "synthetic", "ReLU RNN, recurrent weights 2 x orthogonal, SGD with clipping at 1 (hides it)"
)
def expl_rnn_clipped() -> Result:
    x, y = sequences(4096, 40, 8, 4)
    seed(4)
    m = SeqRegressor(8, 32, 2.0)
    seed(4)
    sane = SeqRegressor(8, 32, 0.9)
    ratio = _raw_norm(m, x[:256], y[:256], MSE) / _raw_norm(sane, x[:256], y[:256], MSE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.01), batches(x, y, 64, 4), MSE, 300, clip=1.0)
    ok = ratio >= 100 and math.isfinite(run.final())
    return (
        run,
        ok,
        f"raw gradient norm at init {ratio:.3g}x that of gain 0.9; clipped run stays finite ({run.final():.3g})",
    )


@scenario("exploding_gradients", "mnist", "10-layer ReLU MLP at twice He's init scale, SGD momentum with clipping at 1")
def expl_deep_init() -> Result:
    x, y = images("mnist", n=20000)
    seed(5)
    m = mlp([784] + [128] * 9 + [10], nn.ReLU, gain=2 * math.sqrt(2))
    seed(5)
    he = mlp([784] + [128] * 9 + [10], nn.ReLU, gain=math.sqrt(2))
    ratio = _raw_norm(m, x[:256], y[:256], CE) / _raw_norm(he, x[:256], y[:256], CE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=1e-3, momentum=0.9), batches(x, y, 64, 5), CE, 300, clip=1.0)
    ok = ratio >= 100
    return run, ok, f"raw gradient norm at init {ratio:.3g}x He init's"


@scenario("exploding_gradients", "synthetic", "tanh RNN, recurrent weights 2.5 x orthogonal, Adam, no clipping")
def expl_rnn_adam() -> Result:
    x, y = sequences(4096, 30, 8, 6)
    seed(6)
    m = SeqRegressor(8, 32, 2.5, cell="tanh")
    seed(6)
    sane = SeqRegressor(8, 32, 0.9, cell="tanh")
    ratio = _raw_norm(m, x[:256], y[:256], MSE) / _raw_norm(sane, x[:256], y[:256], MSE)
    run = train(m, torch.optim.Adam(m.parameters(), lr=1e-3), batches(x, y, 64, 6), MSE, 300)
    ok = ratio >= 100
    return run, ok, f"raw gradient norm at init {ratio:.3g}x that of gain 0.9"


# -- vanishing gradients ------------------------------------------------------------------------------------------
def _first_last(model: nn.Module, x: Tensor, y: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor]) -> float:
    g = layer_grad_norms(model, loss_fn(model(x), y))
    return g[0] / g[-1]


@scenario("vanishing_gradients", "mnist", "8-layer sigmoid MLP, SGD")
def van_sigmoid_mnist() -> Result:
    x, y = images("mnist", n=20000)
    seed(7)
    m = mlp([784] + [64] * 7 + [10], nn.Sigmoid)
    ratio = _first_last(m, x[:512], y[:512], CE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.1), batches(x, y, 64, 7), CE, 400)
    ratio_end = _first_last(m, x[:512], y[:512], CE)
    ok = ratio < 1e-3 and ratio_end < 1e-3
    return run, ok, f"first/last gradient ratio {ratio:.2g} at init, {ratio_end:.2g} at the end"


@scenario("vanishing_gradients", "fashion", "8-layer sigmoid MLP, SGD momentum 0.9")
def van_sigmoid_fashion() -> Result:
    x, y = images("fashion-mnist", n=20000)
    seed(8)
    m = mlp([784] + [96] * 7 + [10], nn.Sigmoid)
    ratio = _first_last(m, x[:512], y[:512], CE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), batches(x, y, 64, 8), CE, 400)
    ratio_end = _first_last(m, x[:512], y[:512], CE)
    ok = ratio < 1e-3 and ratio_end < 1e-3
    return run, ok, f"first/last gradient ratio {ratio:.2g} at init, {ratio_end:.2g} at the end"


@scenario("vanishing_gradients", "synthetic", "10-layer sigmoid MLP regression, SGD momentum 0.9")
def van_sigmoid_regression() -> Result:
    x, y = teacher(4096, 16, 9)
    seed(9)
    m = mlp([16] + [32] * 9 + [1], nn.Sigmoid)
    ratio = _first_last(m, x[:512], y[:512], MSE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), batches(x, y, 64, 9), MSE, 400)
    ratio_end = _first_last(m, x[:512], y[:512], MSE)
    ok = ratio < 1e-3 and ratio_end < 1e-3
    return run, ok, f"first/last gradient ratio {ratio:.2g} at init, {ratio_end:.2g} at the end"


# -- dead units ---------------------------------------------------------------------------------------------------
@scenario("dead_units", "mnist", "ReLU MLP with hidden biases initialised to -4, SGD")
def dead_bias() -> Result:
    x, y = images("mnist", n=20000)
    seed(10)
    m = mlp([784, 128, 128, 10], nn.ReLU, bias=-4.0)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.05), batches(x, y, 64, 10), CE, 300)
    frac = dead_fraction(m, x[:2000])
    return run, frac >= 0.5, f"{frac:.0%} of a layer's units output 0 on all of 2000 training images"


@scenario("dead_units", "mnist", "ReLU MLP, SGD at lr 2 (large steps kill units)")
def dead_high_lr() -> Result:
    x, y = images("mnist", n=20000)
    seed(11)
    m = mlp([784, 128, 128, 10], nn.ReLU)
    run = train(m, torch.optim.SGD(m.parameters(), lr=2.0), batches(x, y, 64, 11), CE, 400)
    frac = dead_fraction(m, x[:2000])
    return run, frac >= 0.5, f"{frac:.0%} of a layer's units output 0 on all of 2000 training images"


@scenario("dead_units", "synthetic", "ReLU MLP regression, Adam at lr 0.1")
def dead_adam_regression() -> Result:
    x, y = teacher(4096, 16, 12)
    seed(12)
    m = mlp([16, 64, 64, 1], nn.ReLU)
    run = train(m, torch.optim.Adam(m.parameters(), lr=0.1), batches(x, y, 32, 12), MSE, 400)
    frac = dead_fraction(m, x[:2000])
    return run, frac >= 0.5, f"{frac:.0%} of a layer's units output 0 on all 2000 inputs"


# -- saturation ---------------------------------------------------------------------------------------------------
@scenario("saturation", "mnist", "tanh MLP with weights 6x the Glorot scale, SGD")
def sat_tanh_init() -> Result:
    x, y = images("mnist", n=20000)
    seed(13)
    m = mlp([784, 256, 256, 10], nn.Tanh, gain=6.0 * 3)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.01), batches(x, y, 64, 13), CE, 300)
    frac = saturated_fraction(m, x[:1000], nn.Tanh, lambda o: o.abs() > 0.995)
    return run, frac > 0.5, f"{frac:.0%} of a tanh layer's values beyond |0.995|"


@scenario("saturation", "fashion", "sigmoid MLP fed raw pixel values 0-255 (no input scaling), Adam")
def sat_sigmoid_unscaled() -> Result:
    x, y = images("fashion-mnist", n=20000)
    x = x * 255
    seed(14)
    m = mlp([784, 128, 128, 10], nn.Sigmoid)
    run = train(m, torch.optim.Adam(m.parameters(), lr=1e-3), batches(x, y, 64, 14), CE, 300)
    frac = saturated_fraction(m, x[:1000], nn.Sigmoid, lambda o: o * (1 - o) < 0.0025)
    return run, frac > 0.5, f"{frac:.0%} of a sigmoid layer's values with slope < 1% of max"


@scenario("saturation", "synthetic", "Hardtanh MLP classifier with hidden biases at +3, SGD momentum")
def sat_hardtanh_bias() -> Result:
    g = torch.Generator().manual_seed(15)
    x = torch.randn(4096, 20, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    seed(15)
    m = mlp([20, 64, 64, 2], nn.Hardtanh, bias=3.0)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), batches(x, y, 64, 15), CE, 300)
    frac = saturated_fraction(m, x[:1000], nn.Hardtanh, lambda o: o.abs() >= 1)
    return run, frac > 0.5, f"{frac:.0%} of a hardtanh layer's values clamped at +-1"


# -- plateau ------------------------------------------------------------------------------------------------------
@scenario("plateau", "mnist", "data bug: labels shuffled independently of the images, Adam")
def plat_shuffled_labels() -> Result:
    x, y = images("mnist", n=20000)
    g = torch.Generator().manual_seed(16)
    y_bad = y[torch.randperm(len(y), generator=g)]
    seed(16)
    m = mlp([784, 128, 10], nn.ReLU)
    run = train(m, torch.optim.Adam(m.parameters(), lr=1e-3), batches(x[:20000], y_bad, 64, 16), CE, 400)
    seed(16)
    m2 = mlp([784, 128, 10], nn.ReLU)
    ref = train(m2, torch.optim.Adam(m2.parameters(), lr=1e-3), batches(x, y, 64, 16), CE, 400, doctor=False)
    ok = run.final() >= 0.9 * run.first() and far_lower(run.final(), ref.final())
    return run, ok, f"loss {run.first():.3g} -> {run.final():.3g}; with the right labels {ref.final():.3g}"


@scenario(
    "plateau", "synthetic", "parity of 12 random bits, tanh MLP, Adam: no gradient signal (Shalev-Shwartz et al. 2017)"
)
def plat_parity() -> Result:
    g = torch.Generator().manual_seed(17)
    x = torch.randint(0, 2, (8192, 12), generator=g).float() * 2 - 1
    y = (x.prod(1) > 0).long()
    seed(17)
    m = mlp([12, 128, 2], nn.Tanh)
    run = train(m, torch.optim.Adam(m.parameters(), lr=1e-3), batches(x, y, 64, 17), CE, 400)
    # the signal: the full-batch gradient, next to one batch's
    m.zero_grad()
    full = torch.linalg.vector_norm(
        torch.cat([p.reshape(-1) for p in torch.autograd.grad(CE(m(x), y), list(m.parameters()))])
    )
    part = torch.linalg.vector_norm(
        torch.cat([p.reshape(-1) for p in torch.autograd.grad(CE(m(x[:64]), y[:64]), list(m.parameters()))])
    )
    ok = run.final() >= 0.9 * run.first()
    return (
        run,
        ok,
        f"loss {run.first():.3g} -> {run.final():.3g} (ln 2 = 0.693); full-batch gradient {float(full):.2g} "
        f"vs one batch's {float(part):.2g}",
    )


@scenario("plateau", "synthetic", "regression targets misaligned with their inputs (shifted by one row), RMSprop")
def plat_misaligned_targets() -> Result:
    x, y = teacher(8192, 16, 18, noise=0.05)
    seed(18)
    m = mlp([16, 64, 64, 1], nn.GELU)
    run = train(m, torch.optim.RMSprop(m.parameters(), lr=1e-3), batches(x, y.roll(1, 0), 64, 18), MSE, 400)
    seed(18)
    m2 = mlp([16, 64, 64, 1], nn.GELU)
    ref = train(m2, torch.optim.RMSprop(m2.parameters(), lr=1e-3), batches(x, y, 64, 18), MSE, 400, doctor=False)
    ok = run.final() >= 0.9 * run.first() and far_lower(run.final(), ref.final())
    return run, ok, f"loss {run.first():.3g} -> {run.final():.3g}; aligned targets {ref.final():.3g}"


# -- saddle -------------------------------------------------------------------------------------------------------
class DeepLinear(nn.Module):
    def __init__(self, dims: list[int], scale: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in itertools.pairwise(dims))
        for lay in self.layers:
            nn.init.normal_(lay.weight, 0.0, scale)

    def forward(self, x: Tensor) -> Tensor:
        for lay in self.layers:
            x = lay(x)
        return x


def _low_rank_task(n: int, d: int, k: int, seed_: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed_)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, k, generator=g) @ torch.randn(k, k, generator=g) * 0.5
    return x, x @ w


@scenario("saddle", "synthetic", "two-layer linear net from weights 1e-4: the origin is a saddle (Saxe et al. 2014)")
def saddle_linear_escape() -> Result:
    x, y = _low_rank_task(2048, 16, 4, 19)
    seed(19)
    m = DeepLinear([16, 16, 4], 1e-4)
    lmin, lmax = hessian_extremes(m, x[:512], y[:512], MSE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.02), batches(x, y, 128, 19), MSE, 600)
    ok = lmin < -0.1 * lmax and far_lower(run.first(), run.final())
    return run, ok, f"Hessian at init: min {lmin:.3g}, max {lmax:.3g}; loss {run.first():.3g} -> {run.final():.3g}"


@scenario("saddle", "synthetic", "tanh net from tiny weights, stopped on the saddle; curvature probe (closure)")
def saddle_tanh_probe() -> Result:
    x, y = teacher(2048, 8, 20)
    y = y - y.mean()  # centred: the output bias alone cannot lower the loss
    seed(20)
    m = mlp([8, 16, 1], nn.Tanh, gain=1e-4, bias=0.0)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.005), batches(x, y, 256, 20), MSE, 300, closure=True)
    lmin, lmax = hessian_extremes(m, x[:512], y[:512], MSE)
    ok = lmin < -0.1 * lmax and run.final() >= 0.85 * run.first()
    return run, ok, f"Hessian at the end: min {lmin:.3g}, max {lmax:.3g}; loss {run.first():.3g} -> {run.final():.3g}"


@scenario("saddle", "mnist", "zeros vs ones, one-hidden-layer tanh net from weights 1e-6: stall, then escape")
def saddle_mnist_small_init() -> Result:
    x, y = images("mnist", n=20000)
    keep = y < 2
    x, y = x[keep], y[keep]
    seed(21)
    m = mlp([784, 64, 2], nn.Tanh, gain=1e-6, bias=0.0)
    seed(21)
    lmin, lmax = hessian_extremes(mlp([784, 8, 2], nn.Tanh, gain=1e-6, bias=0.0), x[:512], y[:512], CE)
    run = train(m, torch.optim.SGD(m.parameters(), lr=0.02), batches(x, y, 64, 21), CE, 600)
    ok = lmin < -0.1 * lmax and far_lower(run.first(), run.final())
    return (
        run,
        ok,
        (
            f"Hessian at a tiny-init twin (8 units): min {lmin:.3g}, max {lmax:.3g}; "
            f"loss {run.first():.3g} -> {run.final():.3g}"
        ),
    )


# -- lr too low ---------------------------------------------------------------------------------------------------
def _ten_x(make: Callable[[float], Run], lr: float) -> tuple[Run, Run]:
    return make(lr), make(10 * lr)


@scenario("lr_too_low", "mnist", "ReLU MLP, SGD at lr 3e-3")
def low_sgd_mnist() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(22)
        m = mlp([784, 128, 128, 10], nn.ReLU)
        return train(m, torch.optim.SGD(m.parameters(), lr=lr), batches(x, y, 64, 22), CE, 400, doctor=doctor)

    run, ref = make(3e-3), make(3e-2, False)
    return run, far_lower(run.final(), ref.final()), f"final {run.final():.3g}; 10x lr {ref.final():.3g}"


@scenario("lr_too_low", "fashion", "GELU MLP, Adam at lr 1e-5")
def low_adam_fashion() -> Result:
    x, y = images("fashion-mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(23)
        m = mlp([784, 256, 10], nn.GELU)
        return train(m, torch.optim.Adam(m.parameters(), lr=lr), batches(x, y, 64, 23), CE, 400, doctor=doctor)

    run, ref = make(1e-5), make(1e-4, False)
    return run, far_lower(run.final(), ref.final()), f"final {run.final():.3g}; 10x lr {ref.final():.3g}"


@scenario("lr_too_low", "synthetic", "tanh MLP regression, RMSprop at lr 1e-5")
def low_rmsprop_regression() -> Result:
    x, y = teacher(4096, 16, 24)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(24)
        m = mlp([16, 64, 64, 1], nn.Tanh)
        return train(m, torch.optim.RMSprop(m.parameters(), lr=lr), batches(x, y, 64, 24), MSE, 400, doctor=doctor)

    run, ref = make(1e-5), make(1e-4, False)
    return run, far_lower(run.final(), ref.final()), f"final {run.final():.3g}; 10x lr {ref.final():.3g}"


@scenario("lr_too_low", "mnist", "schedule bug: SGD momentum lr 0.05 cut 1000x at step 40")
def low_decayed_early() -> Result:
    x, y = images("mnist", n=20000)

    def make(cut: bool, doctor: bool = True) -> Run:
        seed(25)
        m = mlp([784, 128, 10], nn.ReLU)
        sched = (lambda t: 0.05 if t < 40 else 5e-5) if cut else (lambda t: 0.05)
        return train(
            m,
            torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
            batches(x, y, 64, 25),
            CE,
            400,
            lr_at=sched,
            doctor=doctor,
        )

    run, ref = make(True), make(False, False)
    return run, far_lower(run.final(), ref.final()), f"final {run.final():.3g}; without the cut {ref.final():.3g}"


# -- oscillation --------------------------------------------------------------------------------------------------
@scenario("oscillation", "synthetic", "linear regression, mini-batch SGD at lr = 1.8 / lambda_max")
def osc_linreg_sgd() -> Result:
    x, y, lam = linreg(4096, 20, 26)
    xc = torch.cat([x, torch.ones(len(x), 1)], 1)
    w_star = torch.linalg.lstsq(xc, y).solution.squeeze(1)
    top = torch.linalg.eigh(xc.T @ xc)[1][:, -1]
    seed(26)
    m = nn.Linear(20, 1)
    signs: list[float] = []
    opt = torch.optim.SGD(m.parameters(), lr=1.8 / lam)
    hook = opt.register_step_post_hook(
        lambda *a: signs.append(float((torch.cat([m.weight.detach().squeeze(0), m.bias.detach()]) - w_star) @ top))
    )
    run = train(m, opt, batches(x, y, 32, 26), MSE, 400)
    hook.remove()
    s_ = torch.tensor(signs[200:]).sign()
    flips = float((s_[1:] != s_[:-1]).float().mean())
    ok = math.isfinite(run.final()) and flips > 0.8
    return run, ok, f"lr * lambda_max = 1.8; the error along the sharpest direction flips sign on {flips:.0%} of steps"


@scenario("oscillation", "mnist", "logistic regression, SGD momentum 0.99 at lr 0.5")
def osc_momentum_logreg() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, mom: float, doctor: bool = True) -> Run:
        seed(27)
        m = nn.Linear(784, 10)
        return train(
            m, torch.optim.SGD(m.parameters(), lr=lr, momentum=mom), batches(x, y, 128, 27), CE, 400, doctor=doctor
        )

    run, ref = make(0.5, 0.99), make(0.05, 0.9, False)
    ok = math.isfinite(run.final()) and far_lower(run.final(), ref.final())
    return run, ok, f"final {run.final():.3g}; lr 0.05 momentum 0.9: {ref.final():.3g}"


@scenario(
    "oscillation", "synthetic", "linear regression, SGD momentum 0.9 at lr = 3 / lambda_max (stability limit 3.8)"
)
def osc_momentum_linreg() -> Result:
    x, y, lam = linreg(4096, 20, 28)
    xc = torch.cat([x, torch.ones(len(x), 1)], 1)
    w_star = torch.linalg.lstsq(xc, y).solution.squeeze(1)
    top = torch.linalg.eigh(xc.T @ xc)[1][:, -1]

    def make(lr: float, doctor: bool = True, errors: list[float] | None = None) -> Run:
        seed(28)
        m = nn.Linear(20, 1)
        opt = torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9)
        if errors is not None:
            opt.register_step_post_hook(
                lambda *a: errors.append(
                    float((torch.cat([m.weight.detach().squeeze(0), m.bias.detach()]) - w_star) @ top)
                )
            )
        return train(m, opt, batches(x, y, 256, 28), MSE, 400, doctor=doctor)

    errors: list[float] = []
    run, ref = make(3.0 / lam, errors=errors), make(0.3 / lam, False)
    s_ = torch.tensor(errors[200:]).sign()
    turns = int((s_[1:] != s_[:-1]).sum())
    ok = math.isfinite(run.final()) and turns >= 20 and far_lower(run.final(), ref.final())
    return (
        run,
        ok,
        (
            f"heavy ball at 79% of its stability limit: the sharpest error changes sign {turns} times in "
            f"200 steps; final {run.final():.3g}, lr / 10: {ref.final():.3g}"
        ),
    )


@scenario("oscillation", "mnist", "tanh MLP, plain SGD at lr 2")
def osc_tanh_sgd() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(29)
        m = mlp([784, 128, 10], nn.Tanh)
        return train(m, torch.optim.SGD(m.parameters(), lr=lr), batches(x, y, 64, 29), CE, 400, doctor=doctor)

    run, ref = make(2.0), make(0.2, False)
    ok = math.isfinite(run.final()) and far_lower(run.final(), ref.final())
    return run, ok, f"final {run.final():.3g}; lr / 10: {ref.final():.3g}"


# -- overfitting --------------------------------------------------------------------------------------------------
def _evaluator(
    xs: Tensor, ys: Tensor, xv: Tensor, yv: Tensor, loss_fn: Callable[[Tensor, Tensor], Tensor], acc: bool
) -> Callable[[nn.Module], tuple[dict[str, float], dict[str, float]]]:
    def evaluate(model: nn.Module) -> tuple[dict[str, float], dict[str, float]]:
        out = []
        for a, b in ((xs, ys), (xv, yv)):
            o = model(a)
            d = {"loss": float(loss_fn(o, b))}
            if acc:
                d["acc"] = float((o.argmax(1) == b).float().mean())
            out.append(d)
        return out[0], out[1]

    return evaluate


def _overfit_check(run: Run) -> tuple[bool, str]:
    val = [v["loss"] for _, _, v in run.evals]
    tr = [t["loss"] for _, t, _ in run.evals]
    b = min(range(len(val)), key=val.__getitem__)
    ok = val[-1] >= 1.05 * val[b] and val[-2] >= 1.05 * val[b] and tr[-1] < tr[b]
    return ok, f"val loss best {val[b]:.3g} at eval {b}, last {val[-1]:.3g}; train {tr[b]:.3g} -> {tr[-1]:.3g}"


@scenario("overfitting", "mnist", "256 training images, wide MLP, Adam, many epochs")
def overfit_mnist_small() -> Result:
    x, y = images("mnist", n=256)
    xv, yv = images("mnist", "test", n=2000)
    seed(30)
    m = mlp([784, 512, 512, 10], nn.ReLU)
    run = train(
        m,
        torch.optim.Adam(m.parameters(), lr=1e-3),
        batches(x, y, 64, 30),
        CE,
        600,
        evaluate=_evaluator(x, y, xv, yv, CE, True),
        eval_every=50,
    )
    ok, what = _overfit_check(run)
    return run, ok, what


@scenario("overfitting", "synthetic", "40 noisy points, 2-layer GELU MLP of width 256, Adam")
def overfit_regression() -> Result:
    g = torch.Generator().manual_seed(31)
    xs = torch.rand(40, 1, generator=g) * 4 - 2
    ys = torch.sin(2 * xs) + 0.3 * torch.randn(40, 1, generator=g)
    xv = torch.linspace(-2, 2, 400).unsqueeze(1)
    yv = torch.sin(2 * xv)
    seed(31)
    m = mlp([1, 256, 256, 1], nn.GELU)
    run = train(
        m,
        torch.optim.Adam(m.parameters(), lr=3e-3),
        batches(xs, ys, 40, 31),
        MSE,
        1500,
        evaluate=_evaluator(xs, ys, xv, yv, MSE, False),
        eval_every=100,
    )
    ok, what = _overfit_check(run)
    return run, ok, what


@scenario("overfitting", "fashion", "512 images with 30% label noise, SGD momentum")
def overfit_fashion_noise() -> Result:
    x, y = images("fashion-mnist", n=512)
    g = torch.Generator().manual_seed(32)
    flip = torch.rand(len(y), generator=g) < 0.3
    y = torch.where(flip, torch.randint(0, 10, y.shape, generator=g), y)
    xv, yv = images("fashion-mnist", "test", n=2000)
    seed(32)
    m = mlp([784, 512, 10], nn.ReLU)
    run = train(
        m,
        torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
        batches(x, y, 64, 32),
        CE,
        800,
        evaluate=_evaluator(x, y, xv, yv, CE, True),
        eval_every=50,
    )
    ok, what = _overfit_check(run)
    return run, ok, what
