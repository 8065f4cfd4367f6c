"""The protocol (grid -> choice -> seeds, defaults beside) and the summary statistics, the latter against NumPy."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

from ravine.lab.tasks import TASKS, Protocol
from ravine.lab.tasks.protocol import choose_lr, default_lr
from ravine.lab.tasks.summary import aggregate, rank, stats

MNIST = TASKS["mnist-logreg"]
QUAD = TASKS["quadratic-deep"]


def _rec(lr: float, val_acc: float | None = None, val_loss: float | None = 1.0, diverged: bool = False) -> dict:
    return {"spec": {"lr": lr}, "diverged": diverged, "final": {"val_acc": val_acc, "val_loss": val_loss}}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([_rec(0.1, 0.9), _rec(0.01, 0.95), _rec(1.0, 0.5)], 0.01),
        ([_rec(0.1, 0.9), _rec(1.0, 0.99, diverged=True)], 0.1),  # a diverged run never wins
        ([_rec(0.1, 0.9, 0.3), _rec(0.01, 0.9, 0.2)], 0.01),  # tie on accuracy: lower validation loss
        ([_rec(0.1, 0.9, 0.2), _rec(0.01, 0.9, 0.2)], 0.01),  # full tie: the smaller rate
        ([_rec(0.1, None, None), _rec(0.01, 0.8)], 0.01),
        ([_rec(0.1, 0.9, diverged=True)], None),
    ],
)
def test_choose_lr_by_validation_accuracy(records: list[dict], expected: float | None) -> None:
    assert choose_lr(MNIST, records) == expected


def test_choose_lr_by_validation_loss_without_accuracy() -> None:
    records = [_rec(0.1, None, 90.0), _rec(0.01, None, 88.0), _rec(1.0, None, None, diverged=True)]
    assert choose_lr(QUAD, records) == 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"optimizers": ()}, "optimizers must be a non-empty"),
        ({"optimizers": "adam"}, "optimizers must be a non-empty sequence"),
        ({"optimizers": ("adam", "nope")}, "unknown optimizer 'nope'"),
        ({"optimizers": ("torch.Nope",)}, "torch.optim has no optimiser 'Nope'"),
        ({"optimizers": ("adam", "adam")}, "must not repeat"),
        ({"lr_grid": ()}, "at least one"),
        ({"lr_grid": (0.1, 0.0)}, "finite and > 0, got 0.0"),
        ({"lr_grid": (-1e-3,)}, "finite and > 0"),
        ({"lr_grid": (math.inf,)}, "finite and > 0"),
        ({"lr_grid": (math.nan,)}, "finite and > 0"),
        ({"seeds": 0}, "seeds must be an integer >= 1, got 0"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1 or 'full'"),
        ({"batch_size": "half"}, "batch_size must be an integer >= 1 or 'full'"),
        ({"threads": 0}, "threads must be"),
        ({"subset": -3}, "subset must be"),
        ({"seeds": True}, "seeds must be"),
        ({"schedule": "nope"}, "unknown schedule"),
    ],
)
def test_protocol_refuses_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Protocol(**{"optimizers": ("adam",), **kwargs})


def test_resolve_takes_the_task_defaults_and_sorts_the_grid() -> None:
    p = Protocol(("adam", "nesterov"), lr_grid=[0.1, 0.01, 0.1]).resolve(MNIST)
    assert p.lr_grid == (0.01, 0.1) and p.epochs == MNIST.epochs and p.batch_size == MNIST.batch_size
    assert Protocol(("adam",)).resolve(MNIST).lr_grid == tuple(sorted(MNIST.lr_grid))


def test_plan_grid_on_seed_0_then_fresh_seeds_for_chosen_and_default_rates() -> None:
    p = Protocol(("adam",), lr_grid=(0.01, 0.1), seeds=3).resolve(MNIST)
    assert [(s.lr, s.seed) for s in p.grid_runs(MNIST, "adam")] == [(0.01, 0), (0.1, 0)]
    assert [s.seed for s in p.seed_runs(MNIST, "adam", 0.1)] == [1, 2, 3]
    assert [(s.lr, s.seed) for s in p.default_runs(MNIST, "adam")] == [(1e-3, 1), (1e-3, 2), (1e-3, 3)]
    assert Protocol(("adam",), defaults=False).default_runs(MNIST, "adam") == []
    full = Protocol(("adam",), batch_size="full").spec(MNIST, "adam", 0.1, 0)
    assert full.batch_size is None


@pytest.mark.parametrize("name", ["Adam", "SGD", "Adagrad", "RMSprop"])
def test_default_lr_of_torch_optimisers_is_torch_s(name: str) -> None:
    cls = getattr(torch.optim, name)
    assert default_lr(f"torch.{name}") == inspect.signature(cls).parameters["lr"].default


def test_default_lr_of_ravine_optimisers_matches_torch() -> None:
    # ravine's drop-ins keep torch's defaults (Adagrad 1e-2, RMSprop 1e-2, Adam 1e-3, SGD 1e-3).
    for ours, theirs in (("adam", "Adam"), ("adagrad", "Adagrad"), ("rmsprop", "RMSprop"), ("nesterov", "SGD")):
        assert default_lr(ours) == inspect.signature(getattr(torch.optim, theirs)).parameters["lr"].default


@pytest.mark.parametrize("values", [[1.0, 2.0, 4.0], [0.5], [3.0, None, 1.0, float("nan")], []])
def test_stats_against_numpy(values: list) -> None:
    s = stats(values)
    v = np.array([x for x in values if x is not None and math.isfinite(x)])
    assert s["n"] == len(v)
    if len(v) == 0:
        assert s["mean"] is None and s["sd"] is None
        return
    assert s["mean"] == pytest.approx(v.mean()) and s["min"] == v.min() and s["max"] == v.max()
    assert s["sd"] == (pytest.approx(v.std(ddof=1)) if len(v) > 1 else None)


def _run(seed: int, test_acc: list[float], reached: int | None) -> dict:
    n = len(test_acc)
    curve = {"step": list(range(n)), "epoch": [i / 2 for i in range(n)], "batch_loss": [None] * n}
    for m in ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss"):
        curve[m] = [1.0] * n
    curve["test_acc"] = test_acc
    return {
        "spec": {"seed": seed},
        "curve": curve,
        "final": {m: v[-1] for m, v in curve.items() if m not in ("step", "epoch", "batch_loss")},
        "diverged": False,
        "target": {"reached_step": reached, "reached_s": None if reached is None else 0.5 * reached},
        "wall_s": 1.0,
        "train_s": 0.5,
        "findings": [],
    }


def test_aggregate_bands_speed_and_findings() -> None:
    runs = [_run(1, [0.1, 0.5, 0.9], 2), _run(2, [0.1, 0.7], None), _run(3, [0.2, 0.6, 0.8], 1)]
    a = aggregate(runs, lr=0.1)
    assert a["n"] == 3 and a["seeds"] == [1, 2, 3]
    band = a["curve"]["test_acc"]
    assert band["mean"] == pytest.approx([np.mean([0.1, 0.1, 0.2]), 0.6, 0.85])
    assert band["min"] == [0.1, 0.5, 0.8] and band["max"] == [0.2, 0.7, 0.9]
    assert a["target"]["reached"] == 2 and a["target"]["steps"]["mean"] == 1.5
    assert a["final"]["test_acc"]["mean"] == pytest.approx(np.mean([0.9, 0.7, 0.8]))
    assert a["findings"] == []
    runs[1]["findings"] = None
    assert aggregate(runs, lr=0.1)["findings"] is None  # one run not examined: the whole is not examined


def test_rank_by_test_accuracy_with_failures_last() -> None:
    def row(name: str, acc: float | None) -> dict:
        return {"optimizer": name, "tuned": None if acc is None else {"final": {"test_acc": {"mean": acc}}}}

    ranked = rank(MNIST, [row("a", 0.9), row("b", None), row("c", 0.95), row("d", 0.8)])
    assert [r["optimizer"] for r in ranked] == ["c", "a", "d", "b"] and [r["rank"] for r in ranked] == [1, 2, 3, 4]
