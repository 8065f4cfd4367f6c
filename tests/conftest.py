"""Shared test options and fixtures.

``--full`` runs the slow checks at full size; without it (CI) they run in a light form. Data-set tests read the
real files from ``../shared/data`` (or ``$RAVINE_DATA``) and never download.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


def pytest_configure(config: pytest.Config) -> None:
    """Point ravine's cache (compiled kernels, processed data sets) at a temporary directory for the whole session,
    before any test or fixture runs, and for every worker process the tests start: tests never write to the
    user's home. Kernels are shared across the session to keep the suite fast."""
    cache = Path(tempfile.mkdtemp(prefix="ravine-test-cache-"))
    config._ravine_cache = cache  # type: ignore[attr-defined]
    config._ravine_saved_cache = os.environ.get("RAVINE_CACHE")  # type: ignore[attr-defined]
    os.environ["RAVINE_CACHE"] = str(cache)


def pytest_unconfigure(config: pytest.Config) -> None:
    cache = getattr(config, "_ravine_cache", None)
    if cache is None:
        return
    saved = config._ravine_saved_cache  # type: ignore[attr-defined]
    if saved is None:
        os.environ.pop("RAVINE_CACHE", None)
    else:
        os.environ["RAVINE_CACHE"] = saved
    shutil.rmtree(cache, ignore_errors=True)
