"""The live doctor on small real runs: the contract, faults it must name, runs it must leave alone."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch
from torch import nn

import ravine
from ravine.diagnose import Doctor, NoActivationsError, NoActivationsWarning, diagnose_log


def regression(n: int = 2048, d: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, torch.tanh(x @ torch.randn(d, 1, generator=g))


def run(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    steps: int,
    *,
    clip: float | None = None,
    batch: int = 32,
    closure: bool = False,
    data: tuple[torch.Tensor, torch.Tensor] | None = None,
    **kw: object,
) -> Doctor:
    x, y = data if data is not None else regression()
    g = torch.Generator().manual_seed(1)
    doctor = Doctor(model, opt, echo=False, **kw)  # type: ignore[arg-type]
    for _ in range(steps):
        i = torch.randint(0, len(x), (batch,), generator=g)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[i]), y[i])
        loss.backward()
        doctor.after_backward(
            loss, closure=(lambda i=i: nn.functional.mse_loss(model(x[i]), y[i])) if closure else None
        )
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        doctor.after_step()
    return doctor


def mlp(act: type[nn.Module] = nn.ReLU, width: int = 32) -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 1))


def test_a_healthy_run_is_ok_the_report_is_json_and_hooks_go_away() -> None:
    torch.manual_seed(0)
    model = mlp()
    with run(model, torch.optim.Adam(model.parameters(), lr=3e-3), 400) as doctor:
        report = doctor.report()
    assert report.ok, str(report)
    json.dumps(report.to_json(), allow_nan=False)
    assert report.meta["optimizer"] == "Adam" and report.meta["layers"] == ["0", "2", "4"]
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    with pytest.raises(RuntimeError, match="closed"):
        doctor.after_backward(torch.tensor(1.0))


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        lambda p: ravine.optim.SGD(p, lr=0.05, momentum=0.9),
        lambda p: ravine.optim.Adam(p, lr=3e-3),
        lambda p: torch.optim.RMSprop(p, lr=1e-3),
    ],
    ids=["torch.SGD", "ravine.SGD", "ravine.Adam", "torch.RMSprop"],
)
def test_any_torch_optim_compatible_optimiser(make) -> None:
    torch.manual_seed(0)
    model = mlp()
    report = run(model, make(model.parameters()), 300).report()
    assert report.ok, str(report)


def test_the_learning_rate_comes_from_param_groups_as_a_scheduler_sets_it() -> None:
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    doctor = Doctor(model, opt, echo=False)
    x, y = regression()
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x[:32]), y[:32])
        loss.backward()
        doctor.after_backward(loss)
        opt.step()
        doctor.after_step()
        sched.step()
    _, lr = doctor.trace.get("lr")
    assert lr.tolist() == [0.1] * 10 + [0.05] * 10 + [0.025] * 10


def test_dead_units_are_named() -> None:
    torch.manual_seed(0)
    model = mlp()
    with torch.no_grad():
        model[0].bias.fill_(-8.0)
    report = run(model, torch.optim.SGD(model.parameters(), lr=0.05), 200).report()
    assert "dead_units" in report.kinds()


def test_clipping_does_not_hide_exploding_gradients() -> None:
    """A ReLU RNN whose recurrent weights are twice orthogonal: the raw gradient is astronomical, the clipped
    update is tame. The doctor reads the raw gradient."""
    torch.manual_seed(0)

    class RNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(8, 16, nonlinearity="relu", batch_first=True)
            nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=2.0)
            self.head = nn.Linear(16, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(x)[0][:, -1])

    x = torch.randn(512, 25, 8, generator=torch.Generator().manual_seed(2))
    data = (x, x[:, :, 0].mean(1, keepdim=True))
    model = RNN()
    doctor = run(model, torch.optim.SGD(model.parameters(), lr=0.01), 150, clip=1.0, data=data, activations=None)
    report = doctor.report()
    assert "exploding_gradients" in report.kinds()
    assert all(math.isfinite(p.detach().abs().max()) for p in model.parameters())  # clipping kept it finite


def test_divergence_is_an_error_and_the_callback_fires_once() -> None:
    torch.manual_seed(0)
    model = mlp()
    seen: list[str] = []
    doctor = run(
        model,
        torch.optim.SGD(model.parameters(), lr=5.0),
        200,
        check_every=20,
        on_finding=lambda f: seen.append(f.kind),
    )
    report = doctor.report()
    assert report.worst == "error"
    assert {"divergence", "exploding_gradients"} & set(report.kinds())
    assert len(seen) == len(set(seen)) >= 1


def test_the_doctor_does_not_change_the_training_run() -> None:
    """Bit for bit, with dropout, BatchNorm and the curvature probe (it forks the RNG and restores buffers)."""

    def train(doctor: bool) -> list[torch.Tensor]:
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 1))
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)  # a slow run: stalls, so probes are wanted
        if doctor:
            d = run(model, opt, 250, closure=True, check_every=20)
            assert d.trace.has("hessian_max")  # the probe did run
        else:
            x, y = regression()
            g = torch.Generator().manual_seed(1)
            for _ in range(250):
                i = torch.randint(0, len(x), (32,), generator=g)
                opt.zero_grad()
                nn.functional.mse_loss(model(x[i]), y[i]).backward()
                opt.step()
        return [t.detach().clone() for t in list(model.parameters()) + list(model.buffers())]

    assert all(torch.equal(a, b) for a, b in zip(train(True), train(False), strict=True))


def test_a_saddle_is_told_from_a_plateau_by_the_curvature_probe() -> None:
    torch.manual_seed(0)
    # no biases: at the origin a free output bias carries only the batch's noise, which then dominates the
    # gradient (steps that do not keep pointing downhill: a probe-only saddle needs them; docs/diagnose.md, Limits)
    model = nn.Sequential(nn.Linear(8, 16, bias=False), nn.Tanh(), nn.Linear(16, 1, bias=False))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1e-4)
    x, y = regression()
    doctor = run(
        model, torch.optim.SGD(model.parameters(), lr=0.005), 300, closure=True, data=(x, y - y.mean()), check_every=50
    )
    found = {f.kind: f for f in doctor.report().findings}
    f = found["saddle"]
    assert f.evidence["hessian_min"] < -0.1 * f.evidence["hessian_max"]
    # the stall lasts to the end: the plateau holds too, and names the saddle as its cause (issue 12, item 2)
    assert set(found) <= {"saddle", "plateau"}
    assert "plateau" not in found or found["plateau"].evidence["caused_by"] == ["saddle"]


def test_log_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = mlp()
    path = tmp_path / "run.jsonl"
    doctor = run(model, torch.optim.SGD(model.parameters(), lr=5.0), 200, log=path)
    live = doctor.report()
    doctor.close()
    assert diagnose_log(path).kinds() == live.kinds()


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda d: d.after_backward(torch.ones(2)), ValueError, "loss must be a 1-element tensor"),
        (lambda d: d.on_eval(val={"loss": "high"}), ValueError, r"val\['loss'\] must be a number"),
        (lambda d: d.after_step(), RuntimeError, "after_step"),
    ],
)
def test_bad_calls_are_refused_clearly(call, error, message) -> None:
    model = mlp()
    with (
        Doctor(model, torch.optim.SGD(model.parameters(), lr=0.1), echo=False) as d,
        pytest.raises(error, match=message),
    ):
        call(d)


def test_bad_arguments() -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="sample_every must be an integer >= 1"):
        Doctor(model, opt, sample_every=0)
    with pytest.raises(ValueError, match="activations must name at least one module"):
        Doctor(model, opt, activations=[])
    with pytest.raises(ValueError, match="is not part of the model"):
        Doctor(model, opt, activations=[nn.ReLU()])
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        Doctor("model", opt)  # type: ignore[arg-type]


def test_a_model_without_hookable_activations() -> None:
    model = nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(NoActivationsWarning, match="no activation module"):
        doctor = Doctor(model, opt, echo=False)
    report = run(model, opt, 60, activations=None).report()
    assert {"dead_units", "saturation"} <= {s.check for s in report.skipped}
    doctor.close()
    with pytest.raises(NoActivationsError, match="no activation module"):
        Doctor(model, opt, activations="required")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Doctor(model, opt, activations=None).close()  # None asks for nothing: no warning
