"""The range test in the task lab: ``Protocol(tuning="find")`` picks each optimiser's rate by one sweep of the
tuning seed's model and batches, runs the seeds there, caches the sweep and resumes; on the synthetic
``quadratic-deep`` task (no data files)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ravine.lab.tasks import TASKS, Protocol, RunStore, compare
from ravine.lab.tasks.base import Arrays, TaskData
from ravine.lr_finder import lab

QUAD = TASKS["quadratic-deep"]
FIND = Protocol(("sgd", "adam"), seeds=2, epochs=2, tuning="find", defaults=False)


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("find")
    return compare(QUAD, FIND, RunStore(out / "runs.jsonl")), out


def test_find_protocol_runs_seeds_at_the_suggestion(found: tuple[dict, Path]) -> None:
    res, out = found
    assert res["complete"] and set(res["lr_finder"]) == {"sgd", "adam"}
    assert res["protocol"]["tuning"] == "find" and res["protocol"]["finder"]["rule"] == "calibrated"
    data = QUAD.load(None)
    budget = 2 * math.ceil(len(data.train) / QUAD.batch_size)
    for row in res["summary"]:
        sweep = res["lr_finder"][row["optimizer"]]
        assert sweep["sweep"]["budget"] == budget
        assert row["chosen_lr"] == sweep["lr"] == sweep["suggestions"]["calibrated"]["lr"]
        assert row["grid"] == [] and row["tuned"]["seeds"] == [1, 2]
        runs = [r for r in res["runs"] if r["spec"]["optimizer"] == row["optimizer"]]
        assert {r["spec"]["lr"] for r in runs} == {row["chosen_lr"]} and len(runs) == 2
    assert (out / "lr_finder.jsonl").is_file()


def test_find_protocol_resumes_without_sweeping_again(
    found: tuple[dict, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    res, out = found

    def no_sweep(*args: object, **kwargs: object) -> None:
        raise AssertionError("swept again")

    monkeypatch.setattr(lab, "sweep", no_sweep)
    again = compare(QUAD, FIND, RunStore(out / "runs.jsonl"))
    assert [r["chosen_lr"] for r in again["summary"]] == [r["chosen_lr"] for r in res["summary"]]
    assert again["runs"] == res["runs"]


def test_sweep_is_deterministic_and_uses_the_tuning_seed() -> None:
    data = QUAD.load(None)
    spec = lab.protocol_spec(QUAD, FIND.resolve(QUAD), "adam", len(data.train))
    a, b = lab.sweep(QUAD, data, spec), lab.sweep(QUAD, data, spec)
    assert a.losses == b.losses and a.family == "rms" and spec.seed == 0


def test_sweep_of_an_empty_training_split_says_so() -> None:
    data = QUAD.load(None)
    empty = TaskData(Arrays(data.train.x[:0], None), data.val, data.test)
    spec = lab.protocol_spec(QUAD, FIND.resolve(QUAD), "adam", len(data.train))
    with pytest.raises(ValueError, match="batches is empty: the training split of quadratic-deep has no examples"):
        lab.sweep(QUAD, empty, spec)


def test_find_refuses_closure_optimisers() -> None:
    with pytest.raises(ValueError, match="tuning='find' cannot tune lbfgs"):
        Protocol(("adam", "lbfgs"), tuning="find")
    with pytest.raises(ValueError, match="tuning must be one of grid, find"):
        Protocol(("adam",), tuning="auto")
    with pytest.raises(ValueError, match="lbfgs: L-BFGS needs a closure"):
        lab.check_optimizer("lbfgs")


def test_stored_suggestions_follow_the_current_rules(found: tuple[dict, Path]) -> None:
    """A sweep record is reused across versions: what it stored as its suggestion does not override the rules."""
    import json

    _, out = found
    path = out / "lr_finder.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for rec in lines:
        rec["result"]["suggestions"]["calibrated"]["lr"] = 123.0  # an older version's (or a tampered) number
    stale = out / "stale.jsonl"
    stale.write_text("".join(json.dumps(r) + "\n" for r in lines))
    store = lab.SweepStore(stale)
    spec = lab.protocol_spec(QUAD, FIND.resolve(QUAD), "adam")
    assert store.stored(spec).lr != 123.0
    assert store.stored(spec).sweep.budget is not None  # the settings it was last used with
