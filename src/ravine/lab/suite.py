"""The landscape comparison: optimisers side by side on landscapes, fairly tuned, as plain records.

``compare(landscape, ["sgd", "momentum", "adam"])`` tunes each optimiser's learning rate on the landscape's
standard starts (:mod:`ravine.lab.tuning`), runs its default learning rate beside it, judges every run
(:mod:`ravine.lab.outcomes`) and ranks the optimisers by the tuning criterion. :func:`to_json` turns the results
into the ``results.json`` the ``ravine compare`` command writes.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import ravine
from ravine.lab import runs, tuning
from ravine.lab.landscapes.base import Landscape
from ravine.lab.outcomes import Outcome, judge
from ravine.lab.runs import Trajectory
from ravine.optim import registry

DEFAULT_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam")

RESULTS_FORMAT = "ravine.landscape-comparison/1"
"""The ``format`` of the results.json :func:`to_json` writes (the report reads files without it too)."""


@dataclass(frozen=True)
class Record:
    """One reported run: results.json holds one per (landscape, optimiser, learning rate, start).

    Attributes:
        lr_source: ``"tuned"`` (chosen from the grid), ``"default"`` (the optimiser's own default) or ``"given"``.
        hyperparameters: every hyperparameter of the optimiser's parameter group, lr included.
        start_index: index into the comparison's starts.
    """

    landscape: str
    optimizer: str
    lr: float
    lr_source: str
    hyperparameters: Mapping[str, Any]
    start: tuple[float, ...]
    start_index: int
    steps: int
    noise: float
    seed: int
    outcome: Outcome
    trajectory: Trajectory

    @property
    def tuned(self) -> bool:
        return self.lr_source == "tuned"


@dataclass(frozen=True)
class Tuning:
    """The learning-rate search of one optimiser: every grid value's score and the one chosen."""

    optimizer: str
    grid: tuple[float, ...]
    scores: tuple[tuning.Score, ...]
    chosen: float
    default_lr: float


@dataclass(frozen=True)
class Standing:
    """An optimiser's place on one landscape: its rank (1 = best) and the score of its reported learning rate."""

    optimizer: str
    rank: int
    lr: float
    score: tuning.Score


@dataclass(frozen=True)
class LandscapeResult:
    """Everything measured on one landscape."""

    landscape: Landscape
    optimizers: tuple[str, ...]
    steps: int
    starts: tuple[tuple[float, ...], ...]
    noise: float
    seed: int
    records: tuple[Record, ...]
    tuning: tuple[Tuning, ...]
    standings: tuple[Standing, ...]

    def select(self, optimizer: str | None = None, source: str | None = None, start: int | None = None) -> list[Record]:
        """The records matching every given field."""
        return [
            r
            for r in self.records
            if (optimizer is None or r.optimizer == optimizer)
            and (source is None or r.lr_source == source)
            and (start is None or r.start_index == start)
        ]

    def score(self, optimizer: str, source: str, lr: float | None = None) -> tuning.Score:
        """The tuning criterion's :class:`~ravine.lab.tuning.Score` of one optimiser's runs at one learning rate
        (``source`` picks tuned, default or given runs; ``lr`` picks among given ones)."""
        recs = [r for r in self.select(optimizer, source) if lr is None or r.lr == lr]
        if not recs:
            raise ValueError(f"no {source} runs of {optimizer!r}" + ("" if lr is None else f" at lr {lr:g}"))
        return tuning.score([r.outcome for r in recs])


def compare(
    landscape: Landscape,
    optimizers: Sequence[str] = DEFAULT_OPTIMIZERS,
    *,
    steps: int | None = None,
    lrs: Sequence[float] | None = None,
    grid: Sequence[float] = tuning.DEFAULT_GRID,
    noise: float = 0.0,
    seed: int = 0,
    starts: Sequence[Sequence[float]] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    on_done: Callable[[str], None] | None = None,
) -> LandscapeResult:
    """Run, judge and rank ``optimizers`` on ``landscape``.

    Args:
        landscape: the landscape.
        optimizers: registry names (``"adam"``, ``"torch.Adam"``), each once.
        steps: steps per run (> 0; default: the landscape's budget).
        lrs: learning rates to run for every optimiser; None tunes each optimiser over ``grid`` (by
            :data:`ravine.lab.tuning.CRITERION`) and also runs its default learning rate.
        grid: the tuning grid (learning rates > 0).
        noise: gradient noise sigma (>= 0).
        seed: seeds the noise.
        starts: starting points (default: the landscape's standard starts).
        overrides: per optimiser name, hyperparameters other than lr (``{"adam": {"betas": (0.9, 0.99)}}``).
        on_done: called with the optimiser's name after each optimiser's runs.

    Returns:
        The :class:`LandscapeResult`.
    """
    steps = landscape.steps if steps is None else steps
    starts = tuple(tuple(float(v) for v in s) for s in (starts if starts is not None else landscape.x0))
    overrides = dict(overrides or {})
    _check(optimizers, lrs, grid, overrides)
    records: list[Record] = []
    tunings: list[Tuning] = []
    standings: list[tuple[str, float, tuning.Score]] = []
    for name in optimizers:
        default_lr = registry.entry(name).default_lr
        candidates = list(lrs) if lrs is not None else sorted(set(grid) | {default_lr})
        batch = runs.run(
            landscape, name, candidates, starts, steps, noise=noise, seed=seed, overrides=overrides.get(name, {})
        )
        outcomes = [[judge(landscape, t) for t in row] for row in batch.runs]
        scores = [tuning.score(o) for o in outcomes]

        def keep(i: int, source: str, batch: runs.Batch = batch, outcomes: list = outcomes) -> None:
            for j, start in enumerate(starts):
                records.append(
                    Record(
                        landscape.name,
                        batch.optimizer,
                        batch.lrs[i],
                        source,
                        batch.hyperparameters[i],
                        start,
                        j,
                        steps,
                        noise,
                        seed,
                        outcomes[i][j],
                        batch.runs[i][j],
                    )
                )

        if lrs is None:
            on_grid = [i for i, lr in enumerate(candidates) if lr in set(grid)]
            best = on_grid[tuning.choose([candidates[i] for i in on_grid], [scores[i] for i in on_grid])]
            keep(best, "tuned")
            keep(candidates.index(default_lr), "default")
            grid_scores = tuple(scores[i] for i in on_grid)
            tunings.append(
                Tuning(name, tuple(candidates[i] for i in on_grid), grid_scores, candidates[best], default_lr)
            )
        else:
            for i in range(len(candidates)):
                keep(i, "given")
            best = tuning.choose(candidates, scores)
        standings.append((name, candidates[best], scores[best]))
        if on_done is not None:
            on_done(name)
    order = sorted(range(len(standings)), key=lambda k: (standings[k][2].key, k))
    ranked = tuple(Standing(standings[k][0], r + 1, standings[k][1], standings[k][2]) for r, k in enumerate(order))
    return LandscapeResult(
        landscape, tuple(optimizers), steps, starts, noise, seed, tuple(records), tuple(tunings), ranked
    )


def _check(
    optimizers: Sequence[str],
    lrs: Sequence[float] | None,
    grid: Sequence[float],
    overrides: Mapping[str, Mapping[str, Any]],
) -> None:
    if not optimizers:
        raise ValueError("optimizers must name at least one optimiser")
    if len(set(optimizers)) != len(optimizers):
        raise ValueError(f"optimizers must not repeat a name, got {list(optimizers)}")
    for name in optimizers:
        if registry.entry(name).matrices_only:
            raise ValueError(
                f"{name} has nothing to act on in a landscape: a landscape's point is a vector, not a weight "
                f"matrix. {registry.MATRICES_ONLY_ADVICE}"
            )
        runs.check_overrides(name, overrides.get(name, {}))
    for name in overrides:
        if name not in optimizers:
            raise ValueError(f"hyperparameters were set for {name!r}, which is not among {list(optimizers)}")
    for label, values in (("lrs", lrs), ("grid", grid)):
        if values is not None and (not values or any(not (v > 0 and math.isfinite(v)) for v in values)):
            raise ValueError(f"{label} must be finite learning rates > 0, got {list(values)}")


def overall(results: Sequence[LandscapeResult]) -> list[tuple[str, float, int, int]]:
    """Across landscapes: (optimiser, mean rank, landscapes won, landscapes where every start reached the
    target), best mean rank first."""
    names = list(dict.fromkeys(s.optimizer for r in results for s in r.standings))
    rows = []
    for name in names:
        mine = [(s, len(r.starts)) for r in results for s in r.standings if s.optimizer == name]
        mean = sum(s.rank for s, _ in mine) / len(mine)
        rows.append((name, mean, sum(s.rank == 1 for s, _ in mine), sum(s.score.reached == n for s, n in mine)))
    return sorted(rows, key=lambda row: (row[1], -row[2], names.index(row[0])))


def to_json(results: Sequence[LandscapeResult], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``results.json`` document: format, settings, environment, landscapes, tuning tables, rankings and one
    record per run.

    Per-step arrays stay out (see :func:`trajectories`); non-finite numbers become null (JSON has no NaN), and a
    record's ``diverged`` says why.
    """
    return _clean(
        {
            "format": RESULTS_FORMAT,
            "settings": {**settings, "tuning_criterion": tuning.CRITERION},
            "environment": environment(results),
            "landscapes": [_landscape_json(r) for r in results],
            "overall": [
                {"optimizer": n, "mean_rank": m, "wins": w, "all_starts_reached": a} for n, m, w, a in overall(results)
            ],
            "records": [_record_json(i, rec) for i, rec in enumerate(records(results))],
        }
    )


def environment(results: Sequence[LandscapeResult]) -> dict[str, Any]:
    """Where the comparison ran: versions, platform, torch's intra-op threads, and the noise seeds used."""
    return {
        "ravine": ravine.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "threads": torch.get_num_threads(),
        "seeds": sorted({r.seed for r in results}),
    }


def records(results: Sequence[LandscapeResult]) -> list[Record]:
    """Every record of ``results`` in order; the index is the record's number in results.json."""
    return [rec for r in results for rec in r.records]


def trajectories(results: Sequence[LandscapeResult]) -> dict[str, np.ndarray]:
    """The per-step arrays of every record, for ``numpy.savez``: ``path_<i>`` (steps + 1, dim), ``values_<i>``
    and ``grad_norms_<i>``, where i is the record's number in results.json."""
    out = {}
    for i, rec in enumerate(records(results)):
        t = rec.trajectory
        out[f"path_{i}"], out[f"values_{i}"], out[f"grad_norms_{i}"] = t.path, t.values, t.grad_norms
    return out


def _landscape_json(r: LandscapeResult) -> dict[str, Any]:
    land = r.landscape
    return {
        "name": land.name,
        "title": land.title,
        "dim": land.dim,
        "params": dict(land.params),
        "domain": [list(b) for b in land.box],
        "f_star": land.f_star,
        "target": land.target,
        "tol": land.tol,
        "unbounded_below": land.unbounded,
        "minimizers": [list(m) for m in land.minimizers],
        "local_minima": [{"value": v, "point": list(p)} for v, p in land.local_minima],
        "saddle_points": [list(p) for p in land.saddle_points],
        "starts": [list(s) for s in r.starts],
        "steps": r.steps,
        "illustrates": land.illustrates,
        "source": land.source,
        "tuning": [
            {
                "optimizer": t.optimizer,
                "chosen_lr": t.chosen,
                "default_lr": t.default_lr,
                "grid": [{"lr": lr, **vars(s)} for lr, s in zip(t.grid, t.scores, strict=True)],
            }
            for t in r.tuning
        ],
        "ranking": [{"optimizer": s.optimizer, "rank": s.rank, "lr": s.lr, **vars(s.score)} for s in r.standings],
    }


def _record_json(i: int, rec: Record) -> dict[str, Any]:
    t = rec.trajectory
    return {
        "record": i,
        "landscape": rec.landscape,
        "optimizer": rec.optimizer,
        "lr": rec.lr,
        "lr_source": rec.lr_source,
        "tuned": rec.tuned,
        "hyperparameters": dict(rec.hyperparameters),
        "start": list(rec.start),
        "start_index": rec.start_index,
        "steps": rec.steps,
        "noise": rec.noise,
        "seed": rec.seed,
        **rec.outcome.to_dict(),
        "evaluations": t.evaluations,
        "final_point": t.path[rec.outcome.judged_steps].tolist(),
    }


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by None, recursively (numpy scalars become Python numbers)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
