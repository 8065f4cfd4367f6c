"""The Triton backend's tests: under Triton's interpreter on CPU tensors everywhere, on a GPU where there is one.

``interp`` routes CPU tensors through the generated Triton kernels (run by the interpreter on numpy) for the
duration of a test. The interpreter executes each program in Python, so these tests use few steps and small
tensors by default; ``--full`` runs the long forms.
"""

from __future__ import annotations

import pytest

from ravine.fused import triton as rt

if not rt.importable():
    pytest.skip("triton is not installed (pip install triton): the GPU backend is unchecked", allow_module_level=True)


@pytest.fixture
def interp():
    with rt.interpret_cpu():
        yield


@pytest.fixture
def steps(full: bool) -> int:
    """Steps per trajectory: a difference in any one rounding shows at the first or second step; the long form
    follows the trajectories as far as the C kernel's tests do."""
    return 60 if full else 8
