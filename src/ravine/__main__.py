"""``python -m ravine ...`` is the ``ravine`` command."""

from ravine.cli import main

main()
