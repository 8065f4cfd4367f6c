"""ravine past one process: DTensor parameters (:mod:`.dtensor`); see docs/distributed.md."""
