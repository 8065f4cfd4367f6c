"""The optimisers that wrap another one (Lookahead, SAM, ASAM) under DistributedDataParallel on 2 gloo processes
take the steps one process takes on the global batch; every wrapper ravine exports is in the table."""

from __future__ import annotations

import dist_cases
import pytest
import torch

import ravine

TOL = dict(rtol=1e-9, atol=1e-12)  # float64, as in test_ddp.py


def test_every_exported_wrapper_is_covered() -> None:
    exported = {
        getattr(ravine.optim, n)
        for n in ravine.optim.__all__
        if isinstance(getattr(ravine.optim, n), type)
        and issubclass(getattr(ravine.optim, n), torch.optim.Optimizer)
        and dist_cases.wraps_another(getattr(ravine.optim, n))
    }
    params = list(dist_cases.model().parameters())
    covered = {type(build(params)) for build in dist_cases.wrappers().values()}
    assert exported - {ravine.optim.Optimizer} <= covered, f"wrappers without a DDP case: {exported - covered}"


@pytest.fixture(scope="module")
def both(ranks):
    return ranks(2).run(dist_cases.wrapped_ddp_rank), dist_cases.wrapped_single()


@pytest.mark.parametrize("name", list(dist_cases.wrappers()))
def test_wrapper_under_ddp_matches_one_process(both, name) -> None:
    got, ref = both
    assert got[0][name].keys() == ref[name].keys()
    for k, v in ref[name].items():
        if k != "norms":
            torch.testing.assert_close(got[0][name][k], v, msg=lambda m, k=k: f"{name} {k}: {m}", **TOL)
    moved = ref[name]["param.0.weight"] - dist_cases.model().state_dict()["0.weight"]
    assert moved.abs().max() > 1e-3, "the wrapper did not move the parameters: the test would not see it fail"
