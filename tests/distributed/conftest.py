"""Multi-process tests: the rank functions live in ``dist_cases.py``, which the spawned processes import by name.

This directory goes on ``sys.path`` (spawned interpreters inherit the parent's), so ``import dist_cases`` works in
pytest and in every rank.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import torch.distributed as dist  # noqa: E402

if not dist.is_available():  # pragma: no cover - torch builds without distributed (some macOS wheels)
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)


@pytest.fixture(scope="session")
def ranks(tmp_path_factory: pytest.TempPathFactory):
    """``ranks(n)``: n gloo processes kept for the whole session (starting interpreters and importing torch is
    most of a multi-process test's time), with the session's kernel cache."""
    from ravine.distributed import Ranks

    env = {"RAVINE_CACHE": str(tmp_path_factory.getbasetemp() / "ravine-cache"), "OMP_NUM_THREADS": "1"}
    pools: dict[int, Ranks] = {}

    def get(n: int) -> Ranks:
        if n not in pools:
            pools[n] = Ranks(n, timeout=300, env=env)
        return pools[n]

    yield get
    for pool in pools.values():
        pool.close()
