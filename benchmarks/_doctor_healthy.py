"""The hard healthy runs of the doctor's benchmark: noisy, spiky, converged-flat, sparse, clipped, scheduled.

"Healthy" is verified, not assumed: the run makes most of its progress, ends finite, has no measured
pathology, and neither a third nor three times its learning rate ends far lower (so the lr was neither too low
nor too high).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from _doctor_runs import Run, batches, dead_fraction, images, mlp, train
from _doctor_scenarios import CE, MSE, Result, _evaluator, far_lower, scenario, seed, sequences, teacher


def _lr_is_right(make: Callable[[float, bool], Run], lr: float, run: Run) -> tuple[bool, str]:
    lo, hi = make(lr / 3, False), make(lr * 3, False)
    beaten = far_lower(run.final(), lo.final()) or far_lower(run.final(), hi.final())
    return not beaten, f"final {run.final():.3g}; lr/3 {lo.final():.3g}, 3x lr {hi.final():.3g}"


def _healthy(run: Run, make: Callable[[float, bool], Run], lr: float, extra: str = "", ok: bool = True) -> Result:
    progress = math.isfinite(run.final()) and run.final() <= 0.5 * run.first()
    right, what = _lr_is_right(make, lr, run)
    return run, ok and progress and right, f"{what}{'; ' + extra if extra else ''}"


@scenario(None, "mnist", "noisy: SGD with batches of 4")
def healthy_noisy_sgd() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(40)
        m = mlp([784, 128, 10], nn.ReLU)
        return train(m, torch.optim.SGD(m.parameters(), lr=lr), batches(x, y, 4, 40), CE, 1000, doctor=doctor)

    run = make(0.03)
    frac = dead_fraction(run.model, x[:2000])
    return _healthy(run, make, 0.03, f"{frac:.0%} dead units", frac < 0.5)


@scenario(None, "mnist", "spiky: a warm-up that overshoots (10x the lr for 10 steps) makes the loss spike; it recovers")
def healthy_warmup_spike() -> Result:
    x, y = images("mnist", n=20000)
    steps = 800

    def make(lr: float, doctor: bool = True) -> Run:
        seed(41)
        m = mlp([784, 256, 256, 10], nn.GELU)

        def sched(t: int) -> float:
            return 10 * lr if 60 <= t < 70 else lr * min(1.0, (t + 1) / 100)

        return train(
            m,
            torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9),
            batches(x, y, 64, 41),
            CE,
            steps,
            lr_at=sched,
            doctor=doctor,
        )

    run = make(0.05)
    med = [float(torch.tensor(run.losses[i : i + 5]).median()) for i in range(0, steps - 5, 5)]
    k = max(range(4, len(med)), key=med.__getitem__)
    spike = med[k] >= 1.5 * min(med[:k])
    return _healthy(run, make, 0.05, f"spike to {med[k]:.3g} from {min(med[:k]):.3g} at step ~{5 * k}", spike)


@scenario(None, "synthetic", "converged-flat: reaches the noise floor early and sits there")
def healthy_converged_flat() -> Result:
    x, y = teacher(8192, 8, 42, noise=0.1)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(42)
        m = mlp([8, 64, 64, 1], nn.Tanh)
        return train(m, torch.optim.Adam(m.parameters(), lr=lr), batches(x, y, 128, 42), MSE, 1200, doctor=doctor)

    run = make(3e-3)
    floor = run.final() <= 1.5 * 0.1**2
    return _healthy(run, make, 3e-3, f"noise variance 0.01, final {run.final():.3g}", floor)


@scenario(None, "synthetic", "sparse but alive: ReLU units that fire on few inputs each")
def healthy_sparse_relu() -> Result:
    g = torch.Generator().manual_seed(43)
    n, d = 8192, 500
    idx = torch.randint(0, d, (n, 5), generator=g)
    x = torch.zeros(n, d).scatter_(1, idx, 1.0)
    w = torch.randn(d, generator=g)
    y = ((x @ w) > 0).long()

    def make(lr: float, doctor: bool = True) -> Run:
        seed(43)
        m = mlp([d, 256, 2], nn.ReLU, gain=0.1 * d**0.5, bias=-0.45)
        return train(m, torch.optim.Adam(m.parameters(), lr=lr), batches(x, y, 64, 43), CE, 600, doctor=doctor)

    run = make(3e-3)
    outs = []
    h = run.model[1].register_forward_hook(lambda m, i, o: outs.append(o))
    with torch.no_grad():
        run.model(x[:2000])
    h.remove()
    zeros = float((outs[0] <= 0).float().mean())
    dead = float((outs[0] <= 0).all(0).float().mean())
    # 70% zeros is where AUTOTRAINER and DeepDiagnosis would call the layer dead
    return _healthy(run, make, 3e-3, f"{zeros:.0%} zero outputs, {dead:.0%} dead units", zeros >= 0.7 and dead < 0.5)


@scenario(None, "mnist", "clipped: SGD momentum with gradient clipping at 1 (active, no explosion)")
def healthy_clipped() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(44)
        m = mlp([784, 256, 10], nn.ReLU)
        return train(
            m,
            torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9),
            batches(x, y, 64, 44),
            CE,
            500,
            clip=1.0,
            doctor=doctor,
        )

    run = make(0.05)
    clipped = sum(g > 1.0 for g in run.raw_grad_norms) / len(run.raw_grad_norms)
    return _healthy(run, make, 0.05, f"clipping active on {clipped:.0%} of steps", clipped > 0.05)


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(16 * 49, 10)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x.view(-1, 1, 28, 28)).flatten(1))


@scenario(None, "fashion", "small CNN, Adam, evaluated every 50 steps")
def healthy_cnn_fashion() -> Result:
    x, y = images("fashion-mnist", n=20000)
    xv, yv = images("fashion-mnist", "test", n=2000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(45)
        m = SmallCNN()
        return train(
            m,
            torch.optim.Adam(m.parameters(), lr=lr),
            batches(x, y, 64, 45),
            CE,
            500,
            doctor=doctor,
            evaluate=_evaluator(x[:2000], y[:2000], xv, yv, CE, True) if doctor else None,
        )

    run = make(2e-3)
    val = [v["loss"] for _, _, v in run.evals]
    return _healthy(run, make, 2e-3, f"val loss {val[0]:.3g} -> {val[-1]:.3g}", val[-1] <= 1.05 * min(val))


@scenario(None, "mnist", "step decay: SGD momentum, lr cut 10x at 60% of the run")
def healthy_step_decay() -> Result:
    x, y = images("mnist", n=20000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(46)
        m = mlp([784, 256, 128, 10], nn.ReLU)
        return train(
            m,
            torch.optim.SGD(m.parameters(), lr=lr, momentum=0.9),
            batches(x, y, 64, 46),
            CE,
            600,
            lr_at=lambda t: lr if t < 360 else lr / 10,
            doctor=doctor,
        )

    run = make(0.05)
    return _healthy(run, make, 0.05)


@scenario(None, "synthetic", "GRU on sequences, Adam with clipping")
def healthy_gru() -> Result:
    from _doctor_scenarios import SeqRegressor

    x, y = sequences(4096, 30, 8, 47)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(47)
        m = SeqRegressor(8, 32, 1.0, cell="gru")
        return train(
            m, torch.optim.Adam(m.parameters(), lr=lr), batches(x, y, 64, 47), MSE, 500, clip=1.0, doctor=doctor
        )

    return _healthy(make(1e-2), make, 1e-2)


@scenario(None, "fashion", "BatchNorm MLP, AdamW with weight decay, evaluated every 50 steps")
def healthy_bn_adamw() -> Result:
    x, y = images("fashion-mnist", n=20000)
    xv, yv = images("fashion-mnist", "test", n=2000)

    def make(lr: float, doctor: bool = True) -> Run:
        seed(48)
        m = nn.Sequential(
            nn.Linear(784, 256),
            nn.BatchNorm1d(256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.BatchNorm1d(128),
            nn.ReLU(),
            nn.Linear(128, 10),
        )
        return train(
            m,
            torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=0.05),
            batches(x, y, 64, 48),
            CE,
            500,
            doctor=doctor,
            evaluate=_evaluator(x[:2000], y[:2000], xv, yv, CE, True) if doctor else None,
        )

    run = make(2e-3)
    frac = dead_fraction(run.model.eval(), x[:2000])
    return _healthy(run, make, 2e-3, f"{frac:.0%} dead units", frac < 0.5)
