"""ravine past one process: DTensor parameters (:mod:`.dtensor`) and a local launcher for process groups
(:func:`launch`, :class:`Ranks`); see docs/distributed.md."""

from ravine.distributed.launch import RankFailed, Ranks, launch

__all__ = ["RankFailed", "Ranks", "launch"]
