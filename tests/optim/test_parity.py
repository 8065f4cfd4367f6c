"""Each ravine optimiser against its torch.optim twin over its option matrix (the outside reference).

Every case runs 210 steps on the seeded problem of ``trajectories.py`` (parameters of shapes (), (7,), (13, 5),
(3, 4, 5)) in float64 (to 1e-12 relative) and float32 (to 1e-5), alone, with two parameter groups of different
learning rates, and with torch's StepLR changing the learning rate mid-run.
"""

from __future__ import annotations

import pytest
import torch

import ravine
from trajectories import CASES, rel_error, run

TOL = {torch.float64: 1e-12, torch.float32: 1e-5}
MODES = {"plain": {}, "two-groups": {"groups": True}, "scheduler": {"scheduler": True}}

PARAMS = [
    pytest.param(name, kwargs, id=f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'defaults'}")
    for name, cases in CASES.items()
    for kwargs in cases
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("name", "kwargs"), PARAMS)
def test_matches_torch(name: str, kwargs: dict, mode: str, dtype: torch.dtype) -> None:
    ours, _ = run(getattr(ravine.optim, name), kwargs, dtype, **MODES[mode])
    ref, _ = run(getattr(torch.optim, name), kwargs, dtype, **MODES[mode])
    assert rel_error(ours, ref) <= TOL[dtype]
    assert all(p.dtype == dtype for p in ours)
    # The run must have gone somewhere: a test that compares two stationary runs proves nothing.
    start, _ = run(getattr(torch.optim, name), kwargs, dtype, steps=0)
    assert rel_error(ref, start) > 1e-3


@pytest.mark.parametrize("name", list(CASES))
def test_state_layout_matches_torch(name: str) -> None:
    """Same state names, shapes and dtypes as torch, so checkpoints move between the two."""
    kwargs = CASES[name][-2]  # a case with non-default flags
    _, ours = run(getattr(ravine.optim, name), kwargs, torch.float64, steps=3)
    _, ref = run(getattr(torch.optim, name), kwargs, torch.float64, steps=3)
    for st_ours, st_ref in zip(ours.state.values(), ref.state.values(), strict=True):
        assert set(st_ref) <= set(st_ours)
        for k, v in st_ref.items():
            assert st_ours[k].shape == v.shape and st_ours[k].dtype == v.dtype, k
