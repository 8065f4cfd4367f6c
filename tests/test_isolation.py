"""The test suite writes nothing to the user's home: ravine's cache points into a temporary directory."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ravine import paths


def test_cache_is_a_temporary_directory_for_the_whole_session() -> None:
    cache = paths.cache_dir().resolve()
    assert cache.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert not cache.is_relative_to(Path.home().resolve() / ".cache")
