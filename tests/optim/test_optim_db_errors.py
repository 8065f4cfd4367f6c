"""torch's own tables for the optimisers ravine added last (Adamax, RAdam, ASGD, Rprop, Adafactor, Muon).

``torch.testing._internal.common_optimizers.optim_db`` lists, per optimiser, the constructor inputs its tests run
and the inputs that must fail (with the error type and a regex of the message). Each error input is tried on
torch's class and on ravine's, side by side; and every CPU input is in ravine's parity tables (``trajectories.py``),
so the parity tests run torch's whole option matrix.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch

import ravine
from trajectories import CASES, NON_ELEMENTWISE

co = pytest.importorskip("torch.testing._internal.common_optimizers", reason="needs expecttest (the test extra)")

NAMES = ["Adamax", "RAdam", "ASGD", "Rprop", "Adafactor", "Muon"]


def _same(a: dict, b: dict) -> bool:
    def norm(d: dict) -> dict:
        return {k: ("tensor", v.item()) if isinstance(v, torch.Tensor) else v for k, v in d.items()}

    return norm(a) == norm(b)


@pytest.mark.parametrize("name", NAMES)
def test_every_input_of_optim_db_is_in_the_parity_tables(name: str) -> None:
    ours = NON_ELEMENTWISE[name][1] if name in NON_ELEMENTWISE else CASES[name]
    for optim_input in getattr(co, f"optim_inputs_func_{name.lower()}")(device="cpu"):
        assert any(_same(optim_input.kwargs, kw) for kw in ours), (name, optim_input.desc, optim_input.kwargs)


def _error_cases(name: str) -> list:
    return getattr(co, f"optim_error_inputs_func_{name.lower()}")(device="cpu", dtype=torch.float32)


def _raise(cls: type, error_input) -> None:
    # as torch's test_errors: the inputs as given (params=None where torch's own checks come first)
    inp = error_input.optimizer_error_input
    if error_input.error_on == co.OptimizerErrorEnum.CONSTRUCTION_ERROR:
        cls(inp.params, **inp.kwargs)
    else:
        cls(inp.params, **inp.kwargs).step()


@pytest.mark.parametrize("owner", ["torch", "ravine"])
@pytest.mark.parametrize("name", NAMES)
def test_error_inputs_fail_as_in_torch(name: str, owner: str) -> None:
    """Type and message (torch's regex) of every error input; torch's class runs as the control."""
    cls = getattr(torch.optim if owner == "torch" else ravine.optim, name)
    cases = _error_cases(name)
    assert len(cases) >= 6
    for case in cases:
        if issubclass(case.error_type, Warning):
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                _raise(cls, case)
            assert any(
                issubclass(w.category, case.error_type) and re.search(case.error_regex, str(w.message)) for w in seen
            ), case.optimizer_error_input.desc
        else:
            with pytest.raises(case.error_type, match=case.error_regex):
                _raise(cls, case)
