"""Distributed checkpoints (``torch.distributed.checkpoint`` with ``get_optimizer_state_dict`` /
``set_optimizer_state_dict``) of FSDP2 models with ravine optimisers: state saved sharded, restored, continued.

* Resumed on the same ranks, a run continues exactly: checkpoint after 2 steps, load into a fresh model and
  optimiser, 2 more steps == 4 steps without interruption, bit for bit (and saving disturbs nothing).
* Resumed on another number of ranks (2 -> 3, DCP reshards), it follows one process to rounding.
* A checkpoint written with torch's optimiser of the same name loads into ravine's, which continues as torch's
  continues from it, to rounding.
* A checkpoint taken before the first step (when torch initialises the optimiser's state with a step at lr 0)
  changes nothing, schedules included.
"""

from __future__ import annotations

import dist_cases
import pytest
import torch

from ravine.distributed.checkpoint import STEPLESS_IN_TORCH

HALF = dist_cases.STEPS // 2

# Known defects, each a strict xfail so that a fix is noticed (CHANGELOG "Known limits"):
KNOWN = {
    ("torch", "muon"): "torch's Muon orthogonalises each FSDP2 shard on its own, so its run is not one process's",
}


def _names(test: str, names: list[str]) -> list:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[test, n], strict=True)) if (test, n) in KNOWN else n
        for n in names
    ]


TOL = dict(rtol=1e-9, atol=1e-12)


def _stepless(name: str) -> bool:
    return dist_cases.configs()[name].cls.__name__ in STEPLESS_IN_TORCH


def _compare(got: dict, ref: dict, what: str, exact: bool, count: bool = True, tol: dict = TOL) -> None:
    """``count=False``: leave out state["step"], which ravine's SGD restarts at 1 after a resume (it keeps
    torch's SGD's keys in checkpoints; see ravine.distributed.checkpoint)."""
    keys = [k for k in ref if k.startswith(("param.", "state.")) and (count or not k.endswith(".step"))]
    assert keys and set(keys) <= set(got), (sorted(ref), sorted(got))
    for k in keys:
        if exact:
            assert torch.equal(got[k], ref[k]), f"{what} {k}: {got[k]} != {ref[k]}"
        else:
            torch.testing.assert_close(got[k], ref[k], msg=lambda m, k=k: f"{what} {k}: {m}", **tol)


@pytest.fixture(scope="module")
def jobs(ranks, tmp_path_factory):
    out = {}
    for at in (HALF, 0):
        root = str(tmp_path_factory.mktemp(f"dcp-at-{at}"))
        saved = ranks(2).run(dist_cases.dcp_save_rank, root, at)[0]
        schedulers = {k: v["scheduler"] for k, v in saved.items() if "error" not in v}
        out[at] = {
            "saved": saved,
            "same": ranks(2).run(dist_cases.dcp_resume_rank, root, at, schedulers)[0],
            "more": ranks(3).run(dist_cases.dcp_resume_rank, root, at, schedulers)[0] if at else None,
        }
    return out


@pytest.fixture(scope="module")
def reference():
    return dist_cases.single()


@pytest.fixture(scope="module")
def uninterrupted(ranks):
    return ranks(2).run(dist_cases.fsdp_rank)[0]


@pytest.mark.parametrize("name", _names("resume", dist_cases.dcp_names()))
def test_resume_on_the_same_ranks_is_exact(jobs, uninterrupted, name) -> None:
    key = f"ravine-{name}"
    _compare(jobs[HALF]["saved"][key], uninterrupted[name], f"{name}, checkpointed", exact=True)
    _compare(jobs[HALF]["same"][key], uninterrupted[name], f"{name}, resumed", exact=True, count=not _stepless(name))


@pytest.mark.parametrize("name", _names("more", dist_cases.dcp_names()))
def test_resume_on_three_ranks_from_two(jobs, reference, name) -> None:
    got = jobs[HALF]["more"][f"ravine-{name}"]
    _compare(
        got, reference[name], f"{name}, 2 -> 3 ranks", exact=False, count=not _stepless(name), tol=dist_cases.tol(name)
    )


@pytest.mark.parametrize(
    "name", _names("torch", [n for n in dist_cases.dcp_names() if dist_cases.torch_twin(dist_cases.configs()[n])])
)
def test_torch_checkpoint_loads_into_ravine(jobs, name) -> None:
    """torch's run, continued by ravine from torch's checkpoint, ends where torch's own continuation ends."""
    torch_error = jobs[HALF]["saved"][f"torch-{name}"].get("error")
    if torch_error:
        pytest.skip(f"torch's {dist_cases.configs()[name].cls.__name__} cannot step FSDP2 DTensors: {torch_error}")
    _compare(jobs[HALF]["same"][f"torch-{name}"], jobs[HALF]["saved"][f"torch-{name}"], name, exact=False)


@pytest.mark.parametrize("name", _names("zero", dist_cases.dcp_names()))
def test_checkpoint_before_the_first_step_changes_nothing(jobs, uninterrupted, name) -> None:
    """Taking it changes nothing (torch's own optimisers count the state-creating step, pytorch#164929); resuming
    from it neither, except for SGD with dampening, whose resumed first step dampens (as torch's SGD does: a
    checkpoint holding a momentum buffer and no step count says "not the first step")."""
    key = f"ravine-{name}"
    _compare(jobs[0]["saved"][key], uninterrupted[name], f"{name}, checkpoint at step 0", exact=True)
    if _stepless(name) and dist_cases.configs()[name].kwargs.get("dampening", 0):
        return
    _compare(jobs[0]["same"][key], uninterrupted[name], f"{name}, resumed from step 0", exact=True,
             count=not _stepless(name))  # fmt: skip
