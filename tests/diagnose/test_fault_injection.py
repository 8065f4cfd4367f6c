"""The fault-injection benchmark (``benchmarks/doctor.py``) as a check: every scenario's label is verified by
measurement and the doctor names it -- or, for the hard healthy runs, raises nothing.

Light form (CI): the synthetic scenarios that run in a second or two. ``--full``: all 43, with MNIST and
Fashion-MNIST from the shared data directory (about a minute on one core). The one known miss
(``plat_misaligned_targets``: a run that learns the targets' mean and nothing else, 9% below its start) is
expected and documented.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
LIGHT = ("div_linreg_gd", "osc_linreg_sgd", "saddle_linear_escape", "dead_adam_regression", "healthy_converged_flat")
KNOWN_MISSES = {"plat_misaligned_targets"}


def _scenarios() -> list:
    sys.path.insert(0, str(BENCH))
    try:
        import _doctor_healthy  # noqa: F401
        from _doctor_scenarios import SCENARIOS
    finally:
        sys.path.remove(str(BENCH))
    return SCENARIOS


@pytest.mark.slow
def test_fault_injection(full: bool, request: pytest.FixtureRequest) -> None:
    scenarios = _scenarios()
    if full:
        request.getfixturevalue("shared_data")  # skips when the data sets are absent
    chosen = [s for s in scenarios if full or s.name in LIGHT]
    assert len(chosen) >= (40 if full else len(LIGHT))
    problems = []
    for s in chosen:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run, verified, measured = s.fn()
        assert verified, f"{s.name}: the label {s.label} did not hold up ({measured})"
        found = run.report.kinds()
        ok = (s.label in found) if s.label else not found
        if not ok and s.name not in KNOWN_MISSES:
            problems.append(f"{s.name}: labelled {s.label or 'healthy'}, doctor says {found or 'nothing'}")
    assert not problems, "\n".join(problems)
