"""ZeRO-1: ``ZeroRedundancyOptimizer(params, optimizer_class=X)`` for every ravine optimiser X.

* Sharded is the same arithmetic as unsharded: with the same gradients on every rank, ZeRO on 2 or 3 ranks gives
  one process's parameters and state bit for bit (each parameter is stepped by one rank, with the same kernel).
* Resume across world sizes is exact: 2 steps on 2 ranks, ``consolidate_state_dict()``, 2 more steps on 3 ranks
  (and 3 -> 2) equals 4 steps in one process, bit for bit; the consolidated state dict also loads into the plain
  optimiser.
* Under DDP (each rank its share of the batch) ZeRO follows one process on the global batch to rounding, also
  with clipping done the ZeRO way (torch's clip_grad_norm_ on the model before the step).

Excluded, with their reasons in dist_cases.ZERO_EXCLUDED: rules reducing over all parameters (each rank holds
only its shard) and L-BFGS (its line search would call the closure a different number of times on each rank).
"""

from __future__ import annotations

import dist_cases
import pytest
import torch

NAMES = dist_cases.zero_names()
TOL = dict(rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def jobs(ranks):
    """The ZeRO jobs, run once: fresh runs on 2 and 3 ranks, each resumed on the other size, and DDP runs."""
    half = dist_cases.STEPS // 2
    out = {}
    out["fresh2"] = ranks(2).run(dist_cases.zero_rank, None, 0, half)[0]
    out["fresh3"] = ranks(3).run(dist_cases.zero_rank, None, 0, half)[0]
    out["2to3"] = ranks(3).run(dist_cases.zero_rank, out["fresh2"], half, dist_cases.STEPS)
    out["3to2"] = ranks(2).run(dist_cases.zero_rank, out["fresh3"], half, dist_cases.STEPS)
    out["ddp2"] = ranks(2).run(dist_cases.zero_ddp_rank)
    out["ddp2_clip"] = ranks(2).run(dist_cases.zero_ddp_rank, dist_cases.MAX_NORM)
    return out


@pytest.fixture(scope="module")
def reference():
    return {"full": dist_cases.single(), "clip": dist_cases.single_clip_with_torch(dist_cases.MAX_NORM)}


def _equal(got: dict, ref: dict, name: str, exact: bool) -> None:
    keys = [k for k in ref if k.startswith(("param.", "state."))]
    assert keys and set(keys) <= set(got), (sorted(ref), sorted(got))
    for k in keys:
        if exact:
            assert torch.equal(got[k], ref[k]), f"{name} {k}: {got[k]} != {ref[k]}"
        else:
            torch.testing.assert_close(got[k], ref[k], msg=lambda m, k=k: f"{name} {k}: {m}", **dist_cases.tol(name))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("path", ["2to3", "3to2"])
def test_zero_resumes_exactly_on_another_world_size(jobs, reference, name, path) -> None:
    ranks = jobs[path]
    _equal(ranks[0][name], reference["full"][name], name, exact=True)
    for other in ranks[1:]:  # ZeRO broadcasts each shard's update: every rank holds the same parameters
        _equal(other[name], {k: v for k, v in reference["full"][name].items() if k.startswith("param.")}, name, True)


@pytest.mark.parametrize("name", NAMES)
def test_consolidated_state_loads_into_the_plain_optimiser(jobs, reference, name) -> None:
    """The consolidated dict is the unsharded optimiser's state dict: one process continues from it exactly."""
    snap = jobs["fresh2"][name]
    spec = dist_cases.configs()[name]
    net = dist_cases.model()
    net.load_state_dict({k[6:]: v for k, v in snap.items() if k.startswith("param.")})
    opt, sched = spec(list(net.parameters()))
    opt.load_state_dict(snap["state_dict"])
    if sched is not None:
        sched.load_state_dict(snap["scheduler"])
    half = dist_cases.STEPS // 2
    got = dist_cases.train(net, spec, steps=range(half, dist_cases.STEPS), opt_sched=(opt, sched))
    _equal(got, reference["full"][name], name, exact=True)


@pytest.mark.parametrize("name", NAMES)
def test_zero_over_ddp_matches_one_process(jobs, reference, name) -> None:
    _equal(jobs["ddp2"][0][name], reference["full"][name], name, exact=False)


def test_zero_with_clipping_on_the_model(jobs, reference) -> None:
    _equal(jobs["ddp2_clip"][0]["adam"], reference["clip"], "adam+clip_grad_norm_", exact=False)
