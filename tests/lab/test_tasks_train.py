"""One training run: a plain torch loop as the reference for what it computes, bit-for-bit reproducibility,
divergence, the speed metric, schedules and the doctor's hooks (through stand-in modules)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import ravine
from ravine.lab.tasks import TASKS, RunSpec, TaskData, run
from ravine.lab.tasks import schedule as schedules
from ravine.lab.tasks.train import eval_steps, stream_seed

QUAD = TASKS["quadratic-deep"]


@pytest.fixture(scope="module")
def quad() -> TaskData:
    return QUAD.load(None)


@pytest.fixture(scope="module")
def mnist(shared_data: Path) -> TaskData:
    return TASKS["mnist-logreg"].load(shared_data).subset(600)


def _spec(task: str = "quadratic-deep", **kw: object) -> RunSpec:
    base = {"optimizer": "adam", "lr": 0.1, "seed": 1, "epochs": 2, "batch_size": 128}
    return RunSpec(task=task, **{**base, **kw})  # type: ignore[arg-type]


def test_full_batch_gd_equals_a_plain_torch_loop(mnist: TaskData) -> None:
    """Full-batch SGD on mnist-logreg is ``torch.optim.SGD`` on mean cross-entropy + l2/2 ||W||^2."""
    task = TASKS["mnist-logreg"]
    rec = run(task, mnist, _spec("mnist-logreg", optimizer="torch.SGD", lr=0.5, epochs=4, batch_size=None))
    torch.manual_seed(stream_seed(1, 0))
    model = task.model()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = mnist.train.x, mnist.train.y
    for _ in range(4):
        opt.zero_grad()
        w = model[0].weight
        (F.cross_entropy(model(x), y) + 0.5 * task.l2 * w.pow(2).sum()).backward()
        opt.step()
    with torch.no_grad():
        expected = F.cross_entropy(model(mnist.test.x), mnist.test.y).item()
        acc = (model(mnist.test.x).argmax(1) == mnist.test.y).double().mean().item()
    assert rec["steps"] == 4 and rec["curve"]["step"] == [0, 1, 2, 3, 4]
    assert rec["final"]["test_loss"] == pytest.approx(expected, rel=1e-5)
    assert rec["final"]["test_acc"] == pytest.approx(acc)


def test_same_spec_same_bits_other_seed_other_bits(quad: TaskData) -> None:
    a, b = run(QUAD, quad, _spec()), run(QUAD, quad, _spec())
    assert a["curve"] == b["curve"] and a["key"] == b["key"]
    c = run(QUAD, quad, _spec(seed=2))
    assert c["curve"]["train_loss"] != a["curve"]["train_loss"]


def test_the_run_fixes_and_records_the_thread_count(quad: TaskData) -> None:
    before = torch.get_num_threads()
    rec = run(QUAD, quad, _spec(threads=1))
    assert rec["torch_threads"] == 1 and torch.get_num_threads() == before


def test_dropout_is_seeded_per_run(shared_data: Path) -> None:
    task = TASKS["imdb-logreg"]
    data = task.load(shared_data).subset(300)
    a = run(task, data, _spec("imdb-logreg", lr=0.01, epochs=1, batch_size=32))
    torch.manual_seed(12345)  # global state before the run must not matter
    b = run(task, data, _spec("imdb-logreg", lr=0.01, epochs=1, batch_size=32))
    assert a["curve"] == b["curve"]


@pytest.mark.parametrize(("batch_size", "steps_per_epoch"), [(None, 1), (1, 50), (16, 4), (128, 1)])
def test_batch_regimes_full_single_and_mini_batch(quad: TaskData, batch_size: int | None, steps_per_epoch: int) -> None:
    data = quad.subset(50)  # 50 training examples: GD takes 1 step per epoch, SGD 50, B=16 takes ceil(50/16) = 4
    rec = run(QUAD, data, _spec(batch_size=batch_size, epochs=2))
    assert rec["steps_per_epoch"] == steps_per_epoch and rec["steps"] == 2 * steps_per_epoch


@pytest.mark.parametrize(("total", "evals", "expected"), [(10, 5, [0, 2, 4, 6, 8, 10]), (3, 20, [0, 1, 2, 3])])
def test_eval_steps_are_evenly_spaced(total: int, evals: int, expected: list[int]) -> None:
    assert eval_steps(total, evals) == expected


def test_divergence_stops_the_run(quad: TaskData) -> None:
    # SGD on a quadratic diverges for lr > 2 / lambda_max (lambda_max < 60 here, so lr = 1 is far beyond).
    rec = run(QUAD, quad, _spec(optimizer="sgd", lr=1.0, epochs=50))
    assert rec["diverged"] and rec["diverged_step"] == rec["steps"] < 50 * 7
    assert rec["final"]["train_loss"] is None or rec["final"]["train_loss"] > 10 * rec["curve"]["train_loss"][0]
    stable = run(QUAD, quad, _spec(optimizer="sgd", lr=0.02, epochs=2))
    assert not stable["diverged"] and stable["steps"] == 2 * 7


def test_speed_is_the_first_evaluation_that_reaches_the_target(quad: TaskData) -> None:
    rec = run(QUAD, quad, _spec(epochs=40))
    vals = rec["curve"]["val_loss"]
    first = next(i for i, v in enumerate(vals) if v <= QUAD.target.value)
    assert rec["target"]["reached_step"] == rec["curve"]["step"][first]
    assert 0 < rec["target"]["reached_s"] <= rec["train_s"]


def test_schedule_spec_drives_the_learning_rate(quad: TaskData) -> None:
    rec = run(QUAD, quad, _spec(schedule="linear:end=0.01", epochs=2))
    total = 2 * 7
    expected = ravine.schedules.linear(0.1, 0.01, total)
    for step, lr in zip(rec["curve"]["step"][1:], rec["curve"]["lr"][1:], strict=True):
        assert lr == expected(step - 1)  # the rate of the last step taken, bit for bit
    assert "warmup_cosine" in schedules.available()


def test_every_recipe_builds_a_schedule_from_lr_and_length() -> None:
    for name in schedules.available()[1:]:
        sched = schedules.build(name, 0.1, 100)
        values = [sched(k) for k in range(100)]
        assert all(math.isfinite(v) and 0 <= v <= 0.1 + 1e-12 for v in values), name
    assert schedules.build("warmup_cosine:warmup_steps=10", 0.1, 100)(10) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", "unknown schedule 'nope'"),
        ("linear:end", "key=value"),
        ("cosine:bogus=1", "schedule 'cosine' has no option bogus; it takes min_lr"),
        ("warmup_cosine:warmup_steps=500", "warmup_steps must be in"),
    ],
)
def test_bad_schedule_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        schedules.build(spec, 0.1, 100)


def test_every_run_goes_through_the_doctor(quad: TaskData, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab calls the real doctor at every step and evaluation, and stores what it finds."""
    import ravine.diagnose

    calls: list[str] = []

    class Spy(ravine.diagnose.Doctor):
        def after_backward(self, loss, **kw):
            calls.append("backward")
            return super().after_backward(loss, **kw)

        def after_step(self):
            calls.append("step")
            return super().after_step()

        def on_eval(self, **kw):
            calls.append("eval")
            return super().on_eval(**kw)

    monkeypatch.setattr(ravine.diagnose, "Doctor", Spy)
    rec = run(QUAD, quad, _spec(epochs=2))
    steps, evals = rec["steps"], len(rec["curve"]["step"])
    assert calls.count("backward") == calls.count("step") == steps
    assert calls.count("eval") == evals and calls[:3] == ["eval", "backward", "step"]
    assert isinstance(rec["findings"], list)


def test_a_diverging_run_is_diagnosed(quad: TaskData) -> None:
    # SGD at lr = 1 on the quadratic (lambda_max < 60) diverges: the doctor must say so, with evidence and advice.
    rec = run(QUAD, quad, _spec(optimizer="sgd", lr=1.0, epochs=50))
    kinds = {f["kind"] for f in rec["findings"]}
    assert kinds & {"divergence", "exploding_gradients"}, rec["findings"]
    for f in rec["findings"]:
        assert set(f) == {"kind", "severity", "first_step", "last_step", "message", "evidence", "advice"}
        assert f["advice"] and f["message"]


def test_without_the_doctor_findings_are_null_not_empty(quad: TaskData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ravine.diagnose", None)  # import fails
    assert run(QUAD, quad, _spec(epochs=1))["findings"] is None


def test_record_is_plain_json(quad: TaskData) -> None:
    import json

    rec = run(QUAD, quad, _spec(epochs=1))
    assert json.loads(json.dumps(rec, allow_nan=False)) == rec
    assert all(v is None or math.isfinite(v) for v in rec["curve"]["train_loss"])
