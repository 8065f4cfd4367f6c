"""ravine.distributed.launch: real gloo groups, results in rank order, every failure reported, never a hang."""

from __future__ import annotations

import dist_cases
import pytest

from ravine.distributed import RankFailed, Ranks, launch


def test_ranks_share_a_gloo_group(ranks) -> None:
    out = ranks(3).run(dist_cases.group_facts)
    assert [o["rank"] for o in out] == [0, 1, 2]
    assert all(o["world"] == 3 and o["backend"] == "gloo" and o["env_rank"] == str(o["rank"]) for o in out)
    assert all(o["sum"] == 0 + 1 + 2 for o in out)  # a real all_reduce across the three processes


def test_a_raising_rank_is_reported_with_its_traceback(ranks) -> None:
    pool = ranks(2)
    with pytest.raises(RankFailed, match=r"rank 1 raised ValueError: rank 1 says no") as e:
        pool.run(dist_cases.fail_on, 1, "raise", False)
    assert e.value.rank == 1 and "Traceback" in e.value.details
    assert e.value.intact  # rank 0 finished: the processes are kept
    assert [o["rank"] for o in pool.run(dist_cases.group_facts)] == [0, 1]


def test_a_rank_left_waiting_is_stopped_and_the_group_restarts() -> None:
    with Ranks(2, timeout=120) as pool:
        with pytest.raises(RankFailed, match=r"rank 1 raised ValueError") as e:
            pool.run(dist_cases.fail_on, 1, "raise")  # rank 0 waits in a barrier rank 1 never joins
        assert not e.value.intact
        assert [o["rank"] for o in pool.run(dist_cases.group_facts)] == [0, 1]  # fresh processes
        with pytest.raises(RankFailed, match=r"did not finish within 3"):
            pool.run(dist_cases.fail_on, 1, "hang", timeout=3)


def test_a_crashing_rank_is_named_with_its_signal() -> None:
    with pytest.raises(RankFailed, match=r"rank 0 died \(killed by SIGSEGV\)"):
        launch(dist_cases.fail_on, 2, 0, "segfault", timeout=120)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(world_size=0), "world_size must be an integer >= 1, got 0"),
        (dict(world_size=2, threads=0), "threads must be an integer >= 1, got 0"),
        (dict(world_size=2, timeout=-1), r"timeout must be in \(0, inf\) seconds, got -1"),
        (dict(world_size=2, backend=""), "backend must be a backend name"),
    ],
)
def test_arguments_are_checked(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        Ranks(**kwargs)
