"""The examples in the range test's docstrings run as written."""

from __future__ import annotations

import doctest

import ravine.lr_finder.finder


def test_find_lr_docstring_example() -> None:
    result = doctest.testmod(ravine.lr_finder.finder, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 8 and result.failed == 0
