"""The task lab: optimisers compared on real training problems, fairly (one protocol for all) and reproducibly.

``TASKS`` maps names (``mnist-logreg``, ``imdb-logreg``, ...) to :class:`Task` s. :func:`compare` runs the
protocol (lr grid -> seeds -> summary, :mod:`.protocol`) in worker processes and persists every finished run
(:mod:`.store`), so an interrupted comparison resumes where it stopped.

Example:
    >>> from ravine.lab.tasks import TASKS, Protocol, RunStore, compare
    >>> res = compare(TASKS["mnist-logreg"], Protocol(("nesterov", "adam"), epochs=1, subset=2000),
    ...               RunStore("out/runs.jsonl"), data_dir="/data", workers=2)       # doctest: +SKIP
    >>> [(row["optimizer"], row["chosen_lr"]) for row in res["summary"]]             # doctest: +SKIP
"""

from ravine.lab.tasks.base import Arrays, Target, Task, TaskData
from ravine.lab.tasks.catalog import TASKS, get
from ravine.lab.tasks.protocol import Protocol
from ravine.lab.tasks.runner import Event, RunFailed, compare, results
from ravine.lab.tasks.spec import RunSpec
from ravine.lab.tasks.store import RunStore
from ravine.lab.tasks.train import run

__all__ = [
    "TASKS",
    "Arrays",
    "Event",
    "Protocol",
    "RunFailed",
    "RunSpec",
    "RunStore",
    "Target",
    "Task",
    "TaskData",
    "compare",
    "get",
    "results",
    "run",
]
