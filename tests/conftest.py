"""Shared test options and fixtures.

``--full`` runs the slow checks at full size; without it (CI) they run in a light form. Data-set tests read the
real files from ``../shared/data`` (or ``$RAVINE_DATA``) and never download.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help="run slow checks at full size")


@pytest.fixture(scope="session")
def full(request: pytest.FixtureRequest) -> bool:
    """True when the slow checks should run at full size."""
    return bool(request.config.getoption("--full"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory with the real data sets (mnist/, fashion-mnist/, imdb/); skips when absent."""
    env = os.environ.get("RAVINE_DATA")
    for cand in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (cand / "mnist").is_dir():
            return cand
    pytest.skip("the shared data directory (../shared/data or $RAVINE_DATA) is not present")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels and processed data go to a per-session cache, so tests never depend on the user's cache...
    except that compiled kernels are shared across the session to keep the suite fast."""
    monkeypatch.setenv("RAVINE_CACHE", str(tmp_path_factory.getbasetemp() / "ravine-cache"))
