"""Where ravine keeps files: the one place that reads ravine's environment variables.

* ``RAVINE_CACHE`` -- compiled kernels and processed data sets (default ``$XDG_CACHE_HOME/ravine`` or
  ``~/.cache/ravine``);
* ``RAVINE_DATA`` -- raw data sets, when no directory is passed to a loader (default ``<cache>/data``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root (created on demand by whoever writes into it)."""
    env = os.environ.get("RAVINE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "ravine"


def data_dir_from_env() -> Path | None:
    """``RAVINE_DATA`` if set, else None."""
    env = os.environ.get("RAVINE_DATA")
    return Path(env).expanduser() if env else None


def default_data_dir() -> Path:
    """Where downloads go when neither an argument nor ``RAVINE_DATA`` names a directory."""
    return cache_dir() / "data"
