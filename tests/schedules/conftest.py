"""One example of every schedule, shaped to change within a short run (40 steps), for the table-driven tests.

``example`` is a factory (a fresh object per call, since ReduceOnPlateau keeps state); ``stops`` are the steps at
which the resume tests interrupt a run: around every boundary of the schedule (warm-up end, join boundaries,
milestones, horizon).
"""

from __future__ import annotations

import pytest

from ravine.schedules import (
    ReduceOnPlateau,
    constant,
    cosine,
    exponential,
    inverse_sqrt,
    join,
    linear,
    multistep,
    one_cycle,
    polynomial,
    step_decay,
    warmup,
)

STEPS = 40

EXAMPLES = {
    "constant": (lambda: constant(0.05), (1, 20)),
    "step_decay": (lambda: step_decay(0.1, step_size=7, gamma=0.5), (6, 7, 8)),
    "multistep": (lambda: multistep(0.1, milestones=[5, 12, 30], gamma=0.3), (5, 12, 31)),
    "exponential": (lambda: exponential(0.1, gamma=0.93), (1, 17)),
    "cosine": (lambda: cosine(0.1, total_steps=30, min_lr=1e-3), (15, 30, 31)),
    "linear": (lambda: linear(0.01, 0.1, total_steps=25), (10, 25)),
    "polynomial": (lambda: polynomial(0.1, total_steps=30, power=2.0, end=1e-3), (29, 30)),
    "inverse_sqrt": (lambda: inverse_sqrt(0.1, timescale=3.0), (1, 23)),
    "warmup_cosine": (lambda: warmup(cosine(0.1, total_steps=30), steps=8, start_factor=0.1), (7, 8, 9)),
    "join": (
        lambda: join([linear(0.0, 0.1, 6), constant(0.1), exponential(0.1, 0.9)], boundaries=[6, 15]),
        (5, 6, 14, 15, 16),
    ),
    "one_cycle": (lambda: one_cycle(0.1, total_steps=STEPS), (11, 12, 39)),
    "one_cycle_3": (
        lambda: one_cycle(0.1, total_steps=STEPS, pct_start=0.25, anneal_strategy="linear", three_phase=True),
        (9, 10, 18, 19),
    ),
    "plateau": (lambda: ReduceOnPlateau(0.1, patience=1, factor=0.5, cooldown=1), (3, 10, 21)),
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "example" in metafunc.fixturenames:
        names = list(EXAMPLES)
        metafunc.parametrize("example", [EXAMPLES[n][0] for n in names], ids=names)
    if "resume_case" in metafunc.fixturenames:
        cases = [(n, EXAMPLES[n][0], stop) for n in EXAMPLES for stop in EXAMPLES[n][1]]
        metafunc.parametrize("resume_case", cases, ids=[f"{n}-stop{stop}" for n, _, stop in cases])
