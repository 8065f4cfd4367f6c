"""One intra-op thread for the doctor's small runs: on a shared two-core machine, thread hand-offs cost more
than the tiny tensors they split (torch.batch_norm on 32 x 16 took 38 ms with two busy threads)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
