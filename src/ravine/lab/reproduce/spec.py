"""What a reproduction is asked to do (:class:`Settings`, validated once) and one training run of it (:class:`Run`)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace

import torch

import ravine
from ravine.lab.reproduce import paper

RUN_FORMAT = "ravine.reproduction-run/2"  # /2: records carry the objective_* values
#: Quick mode (tests, a first look): tiny subsets, a three-point grid, two seeds; seconds, not minutes.
QUICK_SUBSET = 256
QUICK_GRID = (1e-3, 1e-2, 1e-1)
QUICK_STUDY_ALPHAS = (1e-3, 3e-3)
#: The dense part of the grid, in decades: after the half-decade grid, each optimiser is also tuned at its winner
#: times 10 ** (-1/4) and 10 ** (+1/4) (quarter decades, 1.78x apart). Section 6 searched "a dense grid"; a
#: half-decade grid alone (3.2x steps) left the MNIST and IMDB comparisons of issue 19 deciding on which side of a
#: grid point each optimiser's optimum fell.
REFINE_DECADES = (-0.25, 0.25)


def refined(alpha: float) -> tuple[float, ...]:
    """The quarter-decade neighbours of ``alpha`` (3 significant digits, so that a run's key is stable)."""
    return tuple(float(f"{alpha * 10**d:.3g}") for d in REFINE_DECADES)


@dataclass(frozen=True)
class Run:
    """One training run; its :meth:`key` names it in the run log, so a finished run is never run twice.

    Attributes:
        experiment: :attr:`paper.Experiment.name` (the study's runs name the MLP they train).
        optimizer: registry name (``adam``, ``nesterov``, ...); ``adam`` with ``beta2`` set is the study's chain.
        alpha: the stepsize (alpha of the paper; ``lr`` of torch).
        seed: seeds the initial weights (one stream) and the data order (another); the same seed gives every
            optimiser the same initial weights, as section 6 asks.
        epochs: passes over the training examples.
        subset: training examples used (a fixed sample), or None for all.
        eval_size: training examples the training cost is measured on (a fixed sample).
        beta2: the study's second-moment decay (section 6.4); None outside the study.
        bias_correction: the study's switch; True everywhere else.
        threads: torch intra-op threads (fixed, since results can depend on it).
    """

    experiment: str
    optimizer: str
    alpha: float
    seed: int
    epochs: int
    subset: int | None
    eval_size: int
    beta2: float | None = None
    bias_correction: bool = True
    threads: int = 1

    def key(self) -> str:
        """A hash of the run, the record format and the torch and ravine versions (16 hex digits)."""
        ident = {"run": asdict(self), "format": RUN_FORMAT, "torch": torch.__version__, "ravine": ravine.__version__}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def label(self) -> str:
        study = "" if self.beta2 is None else f" beta2={self.beta2:g} bc={'on' if self.bias_correction else 'off'}"
        return f"{self.experiment} {self.optimizer}{study} alpha={self.alpha:g} seed {self.seed} ({self.epochs} ep)"


def _positive_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Everything a reproduction run is asked, typed and checked here (the CLI passes it down as it is).

    Attributes:
        epochs: horizon of every experiment (None: each one's CPU-sized default, :mod:`.paper`); the paper's
            horizons are 45 (figures 1 left, 3), 160 (1 right), 200 (2a) and 100 (4) epochs.
        seeds: fresh seeds (1..S) for each optimiser's chosen alpha; seed 0 is the tuning seed.
        workers: worker processes (each runs one run at a time with ``threads`` threads).
        quick: tiny subsets (256 examples) and grids for tests (seconds); results mean nothing.
        threads: torch threads per run.
        data_dir: where the data sets are (None: ``$RAVINE_DATA``, then ravine's cache).
    """

    epochs: int | None = None
    seeds: int = 3
    workers: int = 1
    quick: bool = False
    threads: int = 1
    data_dir: str | None = None
    study_seeds: int = field(default=paper.BIAS_CORRECTION.seeds)

    def __post_init__(self) -> None:
        if self.epochs is not None:
            _positive_int("epochs", self.epochs)
        # Two seeds at least: a verdict states its margin in seed standard deviations.
        _positive_int("seeds", self.seeds, 2)
        _positive_int("study_seeds", self.study_seeds, 1)
        _positive_int("workers", self.workers)
        _positive_int("threads", self.threads)
        if not isinstance(self.quick, bool):
            raise ValueError(f"quick must be True or False, got {self.quick!r}")

    # -- what each experiment runs under these settings ------------------------------------------------------
    def grid(self) -> tuple[float, ...]:
        return QUICK_GRID if self.quick else paper.ALPHA_GRID

    def study_alphas(self) -> tuple[float, ...]:
        return QUICK_STUDY_ALPHAS if self.quick else paper.BIAS_CORRECTION.alphas

    def horizon(self, exp: paper.Experiment | paper.Study) -> int:
        if self.quick:
            return self.epochs or 2
        return self.epochs or exp.epochs

    def tune_horizon(self, exp: paper.Experiment) -> int:
        return 1 if self.quick else min(exp.tune_epochs, self.horizon(exp))

    def subset(self, exp: paper.Experiment | paper.Study) -> int | None:
        return QUICK_SUBSET if self.quick else exp.subset

    def eval_size(self) -> int:
        """Training examples the cost is measured on: 10,000 (the size of MNIST's test set), 256 when quick."""
        return QUICK_SUBSET if self.quick else 10_000

    def run(self, exp: paper.Experiment, optimizer: str, alpha: float, seed: int, epochs: int) -> Run:
        return Run(
            experiment=exp.name,
            optimizer=optimizer,
            alpha=float(alpha),
            seed=seed,
            epochs=epochs,
            subset=self.subset(exp),
            eval_size=self.eval_size(),
            threads=self.threads,
        )

    def tune_runs(self, exp: paper.Experiment) -> list[Run]:
        """Seed 0 at every alpha of the grid over the tuning budget (section 6: "searched over a dense grid")."""
        return [self.run(exp, o, a, 0, self.tune_horizon(exp)) for o in exp.optimizers for a in self.grid()]

    def refine_runs(self, exp: paper.Experiment, optimizer: str, alpha: float) -> list[Run]:
        """Seed 0 at the quarter-decade neighbours of the grid's winner ``alpha`` (:data:`REFINE_DECADES`)."""
        return [self.run(exp, optimizer, a, 0, self.tune_horizon(exp)) for a in refined(alpha)]

    def seed_runs(self, exp: paper.Experiment, optimizer: str, alpha: float) -> list[Run]:
        """Seeds 1..S at the chosen alpha over the whole horizon (fresh seeds: none of them chose alpha)."""
        return [self.run(exp, optimizer, alpha, s, self.horizon(exp)) for s in range(1, self.seeds + 1)]

    def study_runs(self, study: paper.Study) -> list[Run]:
        """Every (beta2, correction on/off, alpha, seed) of section 6.4 on the study's MLP."""
        base = self.run(study.base, "adam", 0.0, 0, self.horizon(study))
        base = replace(base, subset=self.subset(study))
        return [
            replace(base, alpha=float(a), seed=s, beta2=b2, bias_correction=bc)
            for b2 in study.beta2s
            for bc in (True, False)
            for a in self.study_alphas()
            for s in range(1, self.study_seeds + 1)
        ]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def finite_or_none(x: float | None) -> float | None:
    """``x`` if it is a finite number, else None (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else float(x)
