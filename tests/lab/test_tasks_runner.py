"""The comparison runner: the planned runs, persistence and resume after an interruption, results that do not
depend on the number of worker processes, and failures that surface instead of vanishing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ravine.lab.tasks import TASKS, Event, Protocol, RunFailed, RunStore, compare
from ravine.lab.tasks.protocol import choose_lr

QUAD = TASKS["quadratic-deep"]
PROTOCOL = Protocol(("sgd", "adam"), lr_grid=(0.003, 0.03, 1.0), seeds=2, epochs=2)


def _compare(store: RunStore, workers: int = 1, on_event=None) -> dict:
    return compare(QUAD, PROTOCOL, store, workers=workers, on_event=on_event)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, list[Event]]:
    events: list[Event] = []
    store = RunStore(tmp_path_factory.mktemp("ref") / "runs.jsonl")
    return _compare(store, on_event=events.append), events


def test_plan_grid_seeds_and_defaults(reference: tuple[dict, list[Event]]) -> None:
    res, events = reference
    assert res["complete"]
    # sgd: 3 grid + 2 seeds at the chosen rate + 2 at its default 1e-3; adam the same: 14 runs.
    assert len(res["runs"]) == 14
    assert len({r["key"] for r in res["runs"]}) == 14
    finished = [e for e in events if e.kind == "finish"]
    assert len(finished) == 14 and finished[-1].done == finished[-1].planned == 14
    for row in res["summary"]:
        grid = [r for r in res["runs"] if r["spec"]["optimizer"] == row["optimizer"] and r["spec"]["seed"] == 0]
        assert row["chosen_lr"] == choose_lr(QUAD, grid)
        assert row["tuned"]["seeds"] == [1, 2] and row["default"]["lr"] == 1e-3
        assert row["chosen_at_edge"] == (row["chosen_lr"] in (0.003, 1.0))
    sgd = next(r for r in res["summary"] if r["optimizer"] == "sgd")
    assert [g["diverged"] for g in sgd["grid"]] == [False, False, True]  # lr 1 > 2 / lambda_max
    assert json.loads(json.dumps(res, allow_nan=False)) == res


def test_every_finished_run_is_on_disk_at_once(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    lines_seen = []

    def on_event(e: Event) -> None:
        if e.kind == "finish":
            lines_seen.append(len(path.read_text().splitlines()))

    _compare(RunStore(path), on_event=on_event)
    assert lines_seen == list(range(1, 15))


def test_interrupted_comparison_resumes_without_recomputing(tmp_path: Path, reference: tuple[dict, list]) -> None:
    path = tmp_path / "runs.jsonl"
    finished = []

    def interrupt_after_five(e: Event) -> None:
        if e.kind == "finish":
            finished.append(e.spec)
            if len(finished) == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _compare(RunStore(path), on_event=interrupt_after_five)
    with open(path, "a") as f:
        f.write('{"format": "ravine.task-run/1", "key": "torn-by-the-')  # a write cut short
    store = RunStore(path)
    assert len(store) == 5 and store.skipped == 1
    events: list[Event] = []
    res = _compare(store, on_event=events.append)
    assert sum(e.kind == "finish" for e in events) == 9
    assert sum(e.kind == "cached" for e in events) == 5
    assert {e.spec.key() for e in events if e.kind == "finish"}.isdisjoint(s.key() for s in finished)
    ref = {r["key"]: r["curve"] for r in reference[0]["runs"]}
    assert {r["key"]: r["curve"] for r in res["runs"]} == ref  # the same bits as an uninterrupted comparison
    assert len(RunStore(path)) == 14


def test_results_do_not_depend_on_the_number_of_workers(tmp_path: Path, reference: tuple[dict, list]) -> None:
    events: list[Event] = []
    res = _compare(RunStore(tmp_path / "runs.jsonl"), workers=2, on_event=events.append)
    assert res["environment"]["workers"] == 2
    strip = ("wall_s", "train_s", "target")
    ref = {r["key"]: {k: v for k, v in r.items() if k not in strip} for r in reference[0]["runs"]}
    assert {r["key"]: {k: v for k, v in r.items() if k not in strip} for r in res["runs"]} == ref
    steps = {r["key"]: r["target"]["reached_step"] for r in reference[0]["runs"]}
    assert {r["key"]: r["target"]["reached_step"] for r in res["runs"]} == steps
    assert [r["optimizer"] for r in res["summary"]] == [r["optimizer"] for r in reference[0]["summary"]]
    starts = [e for e in events if e.kind == "start"]
    assert len(starts) == 14 and all(e.step == 0 and e.total == 2 * 7 for e in starts)  # 800 / 128 -> 7 per epoch


def test_a_failing_run_stops_the_comparison_with_its_cause(tmp_path: Path) -> None:
    # torch.optim.LBFGS needs a closure; the task loop does not give one.
    bad = Protocol(("sgd", "torch.LBFGS"), lr_grid=(0.01,), seeds=1, epochs=1)
    store = RunStore(tmp_path / "runs.jsonl")
    with pytest.raises(RunFailed, match=r"^run torch.LBFGS lr=0.01 seed 0 failed: TypeError: .*closure") as e:
        compare(QUAD, bad, store)
    assert "\n" not in str(e.value) and "Traceback" in e.value.details
    # The runs planned before it (sgd's grid run and default-rate run) finished and are kept.
    assert sorted((r["spec"]["optimizer"], r["spec"]["seed"]) for r in store.records.values()) == [
        ("sgd", 0),
        ("sgd", 1),
    ]


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        compare(QUAD, PROTOCOL, RunStore(tmp_path / "r.jsonl"), workers=0)
