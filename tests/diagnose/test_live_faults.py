"""The live doctor on the faults of issue 12 that it used to miss, each label verified without the doctor.

Several findings at once (saturation with vanishing gradients), oscillation at a too-high lr of an adaptive
optimiser with small batches (a lower lr ends far lower), a saddle told from an lr too low (a negative Hessian
eigenvalue at the stall, from the exact Hessian), a schedule that drives the lr to ~0 (the run without the
collapse ends far lower), units that die mid-run (silent on every input at the end, alive before), and the
healthy runs on which the new signals must stay quiet. These runs were also the development data on which the
thresholds they exercise were chosen (``ravine.diagnose.thresholds``).
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ravine.diagnose import Doctor, NoActivationsWarning, diagnose_log
from ravine.diagnose.doctor import Doctor as _Doctor  # the type of the doctors these tests build


def mlp(sizes: list[int], act: type[nn.Module] | None, gain: float | None = None, bias: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lin = nn.Linear(a, b, bias=bias)
        if gain is not None:
            nn.init.normal_(lin.weight, 0.0, gain / math.sqrt(a))
        layers.append(lin)
        if act is not None and i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def spirals(n: int = 1000, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Two interleaved spirals in 2-D (the classic hard small classification task)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi + 0.5
    c = torch.randint(0, 2, (n,), generator=g)
    angle = t + c * math.pi
    x = torch.stack([torch.cos(angle), torch.sin(angle)], 1) * (2 * t / (3 * math.pi)).unsqueeze(1)
    return x + 0.06 * torch.randn(n, 2, generator=g), c


def train(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    data: tuple[Tensor, Tensor],
    steps: int,
    batch: int,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    *,
    doctor: bool = True,
    probe: bool = False,
    lr_at: Callable[[int], float] | None = None,
    at_step: Callable[[int], None] | None = None,
) -> tuple[_Doctor | None, list[float]]:
    """The contract's loop; ``probe`` passes the batch (with ``Doctor(loss_fn=...)``) instead of nothing."""
    x, y = data
    d = Doctor(model, opt, echo=False, loss_fn=loss_fn) if doctor else None
    g = torch.Generator().manual_seed(1)
    losses = []
    for t in range(steps):
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(t)
        if at_step is not None:
            at_step(t)
        i = torch.randint(0, len(x), (batch,), generator=g) if batch < len(x) else torch.arange(len(x))
        opt.zero_grad()
        loss = loss_fn(model(x[i]), y[i])
        loss.backward()
        if d is not None:
            d.after_backward(loss, batch=(x[i], y[i]) if probe else None)
        opt.step()
        if d is not None:
            d.after_step()
        losses.append(float(loss))
    return d, losses


def final(losses: list[float], k: int = 50) -> float:
    tail = torch.tensor(losses[-k:])
    return float(tail.median()) if bool(torch.isfinite(tail).all()) else math.inf


# -- several findings at once --------------------------------------------------------------------------------------
def test_a_saturated_deep_sigmoid_net_also_has_vanishing_gradients() -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 32, generator=g)
    y = (x[:, :10] + 0.3 * torch.randn(2048, 10, generator=g)).argmax(1)
    model = mlp([32] + [32] * 10 + [10], nn.Sigmoid)
    with torch.no_grad():
        for m in list(model)[:-1]:
            if isinstance(m, nn.Linear):
                m.bias.fill_(7.0)  # every hidden pre-activation near +7: sigmoid' < 1e-3
    doctor, _ = train(model, torch.optim.SGD(model.parameters(), lr=0.1), (x, y), 200, 64)
    # independent: the sigmoid's slope y(1 - y) < 1% of its maximum on most values; first/last weight gradients
    outs: list[Tensor] = []
    sigmoids = [m for m in model if isinstance(m, nn.Sigmoid)]
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o.detach())) for m in sigmoids]
    F.cross_entropy(model(x[:512]), y[:512]).backward()
    for h in hooks:
        h.remove()
    flat = [float((o * (1 - o) < 0.25 * 0.01).float().mean()) for o in outs]
    linears = [m for m in model if isinstance(m, nn.Linear)]
    ratio = float(linears[0].weight.grad.norm() / linears[-1].weight.grad.norm())
    assert sum(f > 0.5 for f in flat) >= len(flat) // 2 and ratio < 1e-3, (flat, ratio)
    assert doctor is not None
    found = {f.kind: f for f in doctor.report().findings if f.severity != "info"}
    assert {"saturation", "vanishing_gradients"} <= set(found)
    assert "saturation" in found["vanishing_gradients"].evidence["caused_by"]


# -- oscillation from what the optimiser does ----------------------------------------------------------------------
@pytest.mark.parametrize("probe", [False, True], ids=["contract only", "with loss_fn and batch"])
def test_adam_at_ten_times_its_lr_oscillates_and_the_units_it_saturates_are_linked_to_it(probe: bool) -> None:
    data = spirals()

    def run(lr: float, doctor: bool) -> tuple[_Doctor | None, list[float]]:
        torch.manual_seed(0)
        model = mlp([2, 64, 64, 2], nn.Tanh)
        return train(model, torch.optim.Adam(model.parameters(), lr=lr), data, 800, 32, doctor=doctor, probe=probe)

    doctor, losses = run(0.1, True)
    _, lower = run(0.01, False)
    assert final(lower) < 0.1 * final(losses), (final(lower), final(losses))  # the label: lr / 10 ends 10x lower
    assert doctor is not None
    report = doctor.report()
    assert "oscillation" in report.kinds()
    # units the lr drove into their tails are saturated as well: both reported, the oscillation as their cause
    found = {f.kind: f for f in report.findings if f.severity != "info"}
    for kind in {"saturation", "dead_units"} & set(found):
        assert found[kind].evidence["caused_by"] == ["oscillation"], found[kind].evidence
    if probe:
        (osc,) = [f for f in report.findings if f.kind == "oscillation"]
        assert osc.evidence["half_step_ratio"] > 1  # the step goes past the best step along its direction
        assert doctor.probe_seconds > 0


def test_healthy_adam_with_the_probes_on_raises_nothing() -> None:
    data = spirals()

    def run(lr: float, doctor: bool) -> tuple[_Doctor | None, list[float]]:
        torch.manual_seed(0)
        model = mlp([2, 64, 64, 2], nn.Tanh)
        return train(model, torch.optim.Adam(model.parameters(), lr=lr), data, 800, 32, doctor=doctor, probe=True)

    doctor, losses = run(0.01, True)
    # independent: it learned (loss down 95%) and a third of its lr does not end lower
    assert final(losses) < 0.05 * losses[0] and final(run(0.01 / 3, False)[1]) > final(losses)
    assert doctor is not None
    report = doctor.report()
    assert report.ok, str(report)
    assert doctor.trace.has("step_probe_half") and doctor.trace.has("update_cosine")


# -- saddle versus lr too low --------------------------------------------------------------------------------------
def _deep_linear() -> tuple[nn.Module, tuple[Tensor, Tensor]]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    return mlp([8, 16, 16, 16, 4], None, gain=0.05, bias=False), (x, x @ torch.randn(8, 4, generator=g))


def test_a_deep_linear_net_stalled_at_the_origin_is_a_saddle_not_an_lr_too_low() -> None:
    model, data = _deep_linear()
    doctor, losses = train(model, torch.optim.SGD(model.parameters(), lr=0.05), data, 800, 10**9, F.mse_loss)
    # independent: the exact Hessian at the stall has a negative eigenvalue comparable to its largest
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_of(w: Tensor) -> Tensor:
        out, i = data[0].double(), 0
        for p in params:
            n = p.numel()
            out = out @ w[i : i + n].reshape(p.shape).T
            i += n
        return F.mse_loss(out, data[1].double())

    eig = torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat.double()))
    assert losses[-1] > 0.99 * losses[0] and eig[0] < -0.1 * eig[-1], (losses[-1], eig[0], eig[-1])
    assert doctor is not None
    kinds = doctor.report().kinds()
    assert "saddle" in kinds and "lr_too_low" not in kinds, kinds


def test_the_curvature_probe_runs_from_the_batch_without_a_closure() -> None:
    model, data = _deep_linear()
    doctor, _ = train(model, torch.optim.SGD(model.parameters(), lr=0.05), data, 400, 10**9, F.mse_loss, probe=True)
    assert doctor is not None and doctor.trace.has("hessian_min")
    (saddle,) = [f for f in doctor.report().findings if f.kind == "saddle"]
    assert saddle.evidence["hessian_min"] < -0.1 * saddle.evidence["hessian_max"]


# -- a schedule that collapses the lr, units that die mid-run ------------------------------------------------------
def test_an_lr_collapsed_mid_run_is_a_plateau_live_and_from_a_scalar_log(tmp_path: Path) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 8, generator=g)
    data = (x, torch.tanh(x @ torch.randn(8, 1, generator=g)))

    def run(collapse: bool, doctor: bool) -> tuple[_Doctor | None, list[float]]:
        torch.manual_seed(0)
        model = mlp([8, 32, 32, 1], nn.ReLU)
        sched = (lambda t: 0.02 if t < 100 else 2e-9) if collapse else (lambda t: 0.02)
        opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        return train(model, opt, data, 500, 32, F.mse_loss, doctor=doctor, lr_at=sched)

    doctor, losses = run(True, True)
    _, kept = run(False, False)
    assert final(kept) < 0.5 * final(losses)  # independent: without the collapse it ends far lower
    assert doctor is not None
    kinds = doctor.report().kinds()
    assert "plateau" in kinds and "lr_too_low" not in kinds, kinds
    path = tmp_path / "run.csv"
    _, lr = doctor.trace.get("lr")
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss", "lr"])
        w.writerows([t, v, r] for t, (v, r) in enumerate(zip(losses, lr.tolist(), strict=True)))
    post = diagnose_log(path)
    (f,) = [f for f in post.findings if f.kind == "plateau"]
    assert f.evidence["lr_collapsed_at"] == 100


def test_units_killed_mid_run_are_found(shared_data: Path) -> None:
    from ravine.lab.data import load_mnist

    mn = load_mnist(shared_data).train
    x, y = mn.x[:4000].reshape(4000, -1).float() / 255.0, mn.y[:4000]
    torch.manual_seed(0)
    model = mlp([784, 128, 128, 10], nn.ReLU)
    silent: dict[int, float] = {}

    def dead_fraction(t: int) -> None:
        if t in (600, 1199):  # before the spike, at the end: units silent on every one of 2000 images
            with torch.no_grad():
                h = model[1](model[0](x[:2000]))
            silent[t] = float((h <= 0).all(0).float().mean())

    spike = lambda t: 0.1 if 650 <= t < 670 else 1e-3  # noqa: E731 -- ten Adam steps at 100x the lr
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    doctor, _ = train(model, opt, (x, y), 1200, 32, lr_at=spike, at_step=dead_fraction)
    assert silent[600] < 0.1 and silent[1199] > 0.9, silent
    assert doctor is not None
    (f,) = [f for f in doctor.report().findings if f.kind == "dead_units"]
    assert f.severity != "info" and f.first_step > 650


# -- the API -------------------------------------------------------------------------------------------------------
def test_batch_needs_a_loss_fn_and_excludes_a_closure() -> None:
    model = mlp([4, 8, 1], nn.ReLU)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoActivationsWarning)
        with Doctor(model, opt, echo=False) as d, pytest.raises(ValueError, match="loss_fn"):
            d.after_backward(torch.tensor(1.0), batch=(x, y))
        with Doctor(model, opt, echo=False, loss_fn=F.mse_loss) as d, pytest.raises(ValueError, match="not both"):
            d.after_backward(torch.tensor(1.0), lambda: F.mse_loss(model(x), y), batch=(x, y))
        with Doctor(model, opt, echo=False, loss_fn=F.mse_loss) as d, pytest.raises(ValueError, match="pair"):
            d.after_backward(torch.tensor(1.0), batch=x)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="loss_fn must be callable"):
            Doctor(model, opt, loss_fn="mse")  # type: ignore[arg-type]
