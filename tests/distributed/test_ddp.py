"""Every ravine optimiser under DistributedDataParallel (gloo, 2 and 3 CPU processes) takes the steps one process
takes on the global batch: the same parameters and optimiser state to rounding, with clipping by global norm,
gradient accumulation under ``no_sync``, ravine schedules and torch LR schedulers.

The reference is the same optimiser in one process (itself tested against torch.optim in tests/optim), so what is
tested here is that nothing in ravine depends on being alone; and that DDP's replicas stay identical bit for bit.
"""

from __future__ import annotations

import dist_cases
import pytest
import torch

NAMES = list(dist_cases.configs())
TOL = dict(rtol=1e-9, atol=1e-12)  # float64: summation order costs ~1e-16 per step; a wrong update ~1e-3


@pytest.fixture(scope="module")
def runs(ranks):
    """One job per (world size, micro-batches), shared by the tests that read it."""
    cache: dict[tuple[int, int], list] = {}

    def get(world: int, micro: int) -> list[dict]:
        if (world, micro) not in cache:
            cache[(world, micro)] = ranks(world).run(dist_cases.ddp_rank, micro)
        return cache[(world, micro)]

    return get


@pytest.fixture(scope="module")
def reference():
    cache: dict[int, dict] = {}

    def get(micro: int) -> dict:
        if micro not in cache:
            cache[micro] = dist_cases.single(micro)
        return cache[micro]

    return get


def check(ranks: list[dict], ref: dict, name: str) -> None:
    got = ranks[0][name]
    assert got.keys() == ref[name].keys()
    for k in ref[name]:
        if k == "norms":
            torch.testing.assert_close(torch.tensor(got[k]), torch.tensor(ref[name][k]), **TOL)
        else:
            torch.testing.assert_close(
                got[k], ref[name][k], msg=lambda m, k=k: f"{name} {k}: {m}", **dist_cases.tol(name)
            )
    for other in ranks[1:]:  # DDP's replicas: identical, not just close
        for k, v in other[name].items():
            if k.startswith("param."):
                assert torch.equal(v, got[k]), f"{name}: rank replicas differ in {k}"
    if name == "clip_adam":
        assert min(got["norms"]) > dist_cases.MAX_NORM, "clipping never bound: the test would not see it fail"


@pytest.mark.parametrize("world", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_ddp_matches_one_process(runs, reference, world, name) -> None:
    check(runs(world, 1), reference(1), name)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "lbfgs"])
def test_ddp_accumulation_with_no_sync(runs, reference, name) -> None:
    """2 micro-batches per step on each of 2 ranks (the first inside no_sync) = 2 on the global batch."""
    check(runs(2, 2), reference(2), name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n != "lbfgs"])
def test_ddp_accumulation_three_ranks(runs, reference, full, name) -> None:
    if not full:
        pytest.skip("3 ranks x 2 micro-batches runs with --full (2 ranks run by default)")
    check(runs(3, 2), reference(2), name)
