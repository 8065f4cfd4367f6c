"""The landscape tables on narrow terminals: decided by the table's real width, wrapped before anything is dropped,
and never a number cut (checked at 80 and 100 columns, as a user's terminal renders them)."""

from __future__ import annotations

import functools

import pytest
from rich.console import Console

from ravine.cli.compare_tables import landscape_table
from ravine.lab import landscapes, suite


@functools.cache
def _results() -> dict[str, suite.LandscapeResult]:
    return {
        "given": suite.compare(
            landscapes.get("bowl"), ["sgd", "momentum", "adam"], steps=60, lrs=[0.01, 0.5, 1.5, 2.1]
        ),
        "tuned": suite.compare(
            landscapes.get("rosenbrock"), suite.DEFAULT_OPTIMIZERS, steps=400, grid=(1e-3, 1e-2, 0.1, 1.0)
        ),
    }


def _render(result: suite.LandscapeResult, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(landscape_table(result, width))
    return console.export_text()


@pytest.mark.parametrize("width", [80, 100])
@pytest.mark.parametrize("kind", ["given", "tuned"])
def test_nothing_is_cut_and_the_table_fits(kind: str, width: int) -> None:
    text = _render(_results()[kind], width)
    assert "…" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    words = " ".join(text.split())
    for r in _results()[kind].records:
        assert f"{r.lr:g}" in words


@pytest.mark.parametrize("width", [80, 100])
def test_behaviour_stays_when_the_table_with_it_fits(width: int) -> None:
    """The lr-effects table is 67 columns wide with its behaviour column: it must keep it at 80 and 100."""
    text = _render(_results()["given"], width)
    assert "behaviour" in text
    for effect in ("too small", "right", "oscillating", "diverging"):
        assert effect in text
    tuned = _render(_results()["tuned"], width)
    assert "behaviour" in tuned and "default" in tuned and "too small" in tuned


def test_behaviour_is_dropped_only_when_even_wrapped_it_cannot_fit() -> None:
    text = _render(_results()["tuned"], 66)
    assert "behaviour: widen the terminal, or see results.json" in " ".join(text.split())
    assert "behaviour" not in text.splitlines()[4]
