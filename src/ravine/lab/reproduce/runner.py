"""Run the reproduction: tune alpha per optimiser, rerun the choice with fresh seeds, run the bias-correction
study, and keep every finished run in ``runs.jsonl`` so that an interrupted reproduction resumes where it stopped.

The protocol (section 6, opening paragraph: a dense grid, the best setting reported):

1. *Tuning*: every optimiser at every alpha of the half-decade grid with seed 0 over the tuning budget
   (``tune_epochs``), then at the quarter-decade neighbours of its winner (:data:`.spec.REFINE_DECADES`).
2. *Choice*: the alpha of all those with the lowest training objective in the last epoch of that budget (the mean
   minibatch cost, :func:`.fit.fit`): the paper reports training cost and the optimisers minimise the objective,
   so the choice is made on it (not on validation accuracy, as the lab's ``compare`` does). Diverged runs never
   win; a tie goes to the smaller alpha.
3. *Seeds*: the chosen alpha again with seeds 1..S over the whole horizon; none of them took part in the choice.

Runs execute in this process (``workers=1``) or in ``spawn``-ed worker processes, each loading its data once;
every run fixes its own threads and seeds, so the results do not depend on the number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ravine.lab.reproduce import data as datasets
from ravine.lab.reproduce import fit, paper
from ravine.lab.reproduce.spec import REFINE_DECADES, RUN_FORMAT, Run, Settings
from ravine.lab.tasks.store import RunStore

EXPERIMENTS = {e.name: e for e in (paper.MNIST_LOGREG, paper.IMDB_LOGREG, paper.MNIST_MLP, paper.FMNIST_CNN,
                                   paper.CIFAR_CNN)}  # fmt: skip


class RunLog(RunStore):
    """Finished runs of a reproduction, one JSON object per line, flushed to disk as each run ends (the task lab's
    store, holding this format's records; a torn last line is skipped).

    Args:
        path: the JSON-lines file (created with its directory on the first :meth:`add`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__(path, record_format=RUN_FORMAT)


@dataclass(frozen=True)
class Event:
    """Progress for displays: ``kind`` is ``plan``, ``cached`` or ``finish``; ``done``/``planned`` count runs."""

    kind: str
    done: int
    planned: int
    run: Run | None = None
    record: dict[str, Any] | None = None


#: The record field alphas are chosen and comparisons judged on: the training objective of the last epoch.
MEASURE = "objective_final"


def choose_alpha(records: list[dict[str, Any]]) -> float | None:
    """Step 2 above: the alpha of the lowest training objective at the end, diverged runs excluded; None if all
    diverged."""
    ok = [r for r in records if not r["diverged"] and r[MEASURE] is not None]
    if not ok:
        return None
    return float(min(ok, key=lambda r: (r[MEASURE], r["run"]["alpha"]))["run"]["alpha"])


def execute(run: Run, data_dir: str | None) -> dict[str, Any]:
    """Load ``run``'s data (once per process) and train it; module-level so that worker processes can call it."""
    exp = EXPERIMENTS[run.experiment]
    return fit.fit(exp, run, datasets.examples(exp, run.subset, data_dir))


@dataclass
class Plan:
    """Which runs the settings ask for; seed runs appear once their experiment's tuning is complete."""

    settings: Settings
    experiments: tuple[paper.Experiment, ...]
    study: paper.Study
    log: RunLog

    def tuning(self, exp: paper.Experiment) -> list[Run]:
        """The grid's runs, and the refinement runs of each optimiser whose grid is complete (step 1)."""
        grid = self.settings.tune_runs(exp)
        out = list(grid)
        for o in exp.optimizers:
            mine = [r for r in grid if r.optimizer == o]
            if all(r.key() in self.log for r in mine):
                best = choose_alpha([self.log.records[r.key()] for r in mine])
                if best is not None:  # every rate diverged: nothing to refine around
                    out += [r for r in self.settings.refine_runs(exp, o, best) if r not in out]
        return out

    def chosen(self, exp: paper.Experiment) -> dict[str, float | None] | None:
        """Each optimiser's chosen alpha, or None while a tuning run (grid or refinement) is missing."""
        runs = self.tuning(exp)  # all of them done means every grid is done, so every refinement is listed
        if not all(r.key() in self.log for r in runs):
            return None
        return {o: choose_alpha([self.log.records[r.key()] for r in runs if r.optimizer == o]) for o in exp.optimizers}

    def seeds(self, exp: paper.Experiment) -> list[Run]:
        chosen = self.chosen(exp)
        if chosen is None:
            return []
        return [r for o, a in chosen.items() if a is not None for r in self.settings.seed_runs(exp, o, a)]

    def known(self) -> list[Run]:
        """Every run that can be named now, cheapest experiment first (:data:`ORDER`): an interrupted reproduction
        then holds whole experiments, and a tuning's seed runs start as soon as it is complete."""
        blocks = {e.name: self.tuning(e) + self.seeds(e) for e in self.experiments}
        blocks[self.study.name] = self.settings.study_runs(self.study)
        return [r for name in ORDER if name in blocks for r in blocks[name]]


#: The order runs start in: the study first (it carries three of the claims), then the logistic regressions
#: (minutes), then the MLP and the CNN (most of the hour).
ORDER = ("bias-correction", "mnist-logreg", "imdb-logreg", "mnist-mlp", "fmnist-cnn", "cifar10-cnn")


def load(settings: Settings, out: str | os.PathLike) -> Plan:
    """The plan of ``settings`` over the runs ``out/runs.jsonl`` already holds, running nothing (a partial result
    can be written from it while the runs go on elsewhere)."""
    cifar = datasets.cifar_present(settings.data_dir)
    return Plan(settings, paper.comparisons(cifar), paper.BIAS_CORRECTION, RunLog(Path(out) / "runs.jsonl"))


def reproduce(
    settings: Settings,
    out: str | os.PathLike,
    *,
    on_event: Callable[[Event], None] | None = None,
) -> Plan:
    """Run everything ``settings`` asks that ``out/runs.jsonl`` does not hold yet; returns the finished plan.

    Raises:
        DataError: a data set is missing (nothing has run).
        Exception: whatever a run raised (finished runs stay in the log).
    """
    emit = on_event or (lambda e: None)
    plan = load(settings, out)
    for exp in plan.experiments:  # fail on missing data before any run
        datasets.training_set(exp.dataset, settings.data_dir)
    submitted: set[str] = set()
    planned = len(plan.known()) + sum(
        len(e.optimizers) * settings.seeds
        + len(e.optimizers) * len(REFINE_DECADES)
        - (len(plan.tuning(e)) - len(settings.tune_runs(e)))
        for e in plan.experiments
        if not plan.seeds(e)
    )

    def done() -> int:
        return sum(r.key() in plan.log for r in plan.known())

    emit(Event("plan", done(), planned))
    for r in plan.known():
        if r.key() in plan.log:
            submitted.add(r.key())
            emit(Event("cached", done(), planned, r, plan.log.records[r.key()]))
    pool = None
    if settings.workers > 1:
        pool = ProcessPoolExecutor(settings.workers, mp_context=mp.get_context("spawn"))
    try:
        futures: dict[Future, Run] = {}
        capacity = max(1, settings.workers)
        while True:
            # Re-planned after every run: one that completes a tuning unlocks its seed runs, which go first.
            todo = []
            for r in plan.known():
                if r.key() in submitted:
                    continue
                if r.key() in plan.log:  # a seed run unlocked by a finished tuning, already in the log
                    submitted.add(r.key())
                    emit(Event("cached", done(), planned, r, plan.log.records[r.key()]))
                else:
                    todo.append(r)
            if not todo and not futures:
                break
            for r in todo[: capacity - len(futures)]:
                submitted.add(r.key())
                if pool is None:
                    plan.log.add(execute(r, settings.data_dir))
                    emit(Event("finish", done(), planned, r, plan.log.records[r.key()]))
                else:
                    futures[pool.submit(execute, r, settings.data_dir)] = r
            if futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for f in finished:
                    r = futures.pop(f)
                    plan.log.add(f.result())
                    emit(Event("finish", done(), planned, r, plan.log.records[r.key()]))
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    return plan
