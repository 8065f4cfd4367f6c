"""The paper's qualitative claims, each turned into a test that the numbers pass or fail.

A comparison claim is judged on the seeds' mean training objective at the chosen alphas (the mean minibatch cost
of the last epoch, or of the first where the claim is about early progress: what the optimisers minimise, what the
alphas were chosen on, and what a training loop logs as its training loss). The same test on the second measure,
the eval-mode negative log-likelihood of the evaluation sample at that epoch's end, is reported beside it. Its
margin is in pooled seed standard deviations, ``sqrt(mean of the involved optimisers' sd^2)``: how far the means
are from the test's boundary. Its robustness is the share of alpha choices one grid step away (each optimiser at
its chosen alpha or a neighbour on its tuning grid, refinement included) for which the same test passes, read
from the tuning runs (seed 0, the tuning budget).

The tolerances (1.05, 2 %, 1 %) and the collapse level are fixed beforehand: the first three are those of the
independent torch.optim re-run of issue 19, the collapse level is :data:`paper.COLLAPSE_LOSS`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ravine.lab.reproduce import analysis, paper

Test = Callable[[dict[str, float]], tuple[bool, float]]  # losses by optimiser -> (holds, signed distance)


@dataclass(frozen=True)
class Verdict:
    """One claim and what the numbers say about it (``holds`` None: the runs it needs are missing)."""

    claim: str
    source: str
    test: str
    measured: str
    holds: bool | None
    margin_sd: float | None
    robust: str
    second_measure: bool | None = None  # the same test on the eval-mode NLL (comparisons only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def row(self) -> list[str]:
        verdict = {True: "holds", False: "FAILS", None: "n/a"}[self.holds]
        margin = "n/a" if self.margin_sd is None else f"{self.margin_sd:+.1f}"
        second = {True: "holds", False: "fails", None: "-"}[self.second_measure]
        return [self.claim, self.source, self.test, self.measured, verdict, margin, self.robust, second]


COLUMNS = [
    "Claim of the paper",
    "Where",
    "Test",
    "Measured here",
    "Verdict",
    "Margin (pooled sd)",
    "Robust to alpha",
    "On eval NLL",
]


# -- tests on the losses of several optimisers -------------------------------------------------------------------
def ratio_at_least(a: str, b: str, r: float) -> Test:
    return lambda v: (v[a] / v[b] >= r, v[a] - r * v[b])


def within(a: str, b: str, tol: float) -> Test:
    return lambda v: (abs(v[a] - v[b]) <= tol * v[b], tol * v[b] - abs(v[a] - v[b]))


def worst(a: str, others: tuple[str, ...]) -> Test:
    return lambda v: (v[a] > max(v[o] for o in others), v[a] - max(v[o] for o in others))


def best(a: str, others: tuple[str, ...]) -> Test:
    return lambda v: (v[a] < min(v[o] for o in others), min(v[o] for o in others) - v[a])


@dataclass(frozen=True)
class Comparison:
    claim: str
    experiment: str
    source: str
    test_text: str
    optimizers: tuple[str, ...]
    test: Test
    point: str  # "final" or "after_epoch_1"
    measured: Callable[[dict[str, float]], str]


def _pooled(sds: list[float | None]) -> float | None:
    if any(s is None for s in sds):
        return None
    pooled = math.sqrt(sum(s * s for s in sds) / len(sds))  # type: ignore[operator]
    return pooled if pooled > 0 else None


def _neighbours(alpha: float, grid: list[float]) -> list[float]:
    i = min(range(len(grid)), key=lambda k: abs(math.log(grid[k] / alpha)))
    return grid[max(0, i - 1) : i + 2]


def judge_comparison(c: Comparison, numbers: dict[str, Any]) -> Verdict:
    """The verdict on ``c`` from one experiment's numbers (:func:`analysis.comparison`)."""
    opts = {o: numbers["optimizers"][o] for o in c.optimizers}
    point = "the last epoch" if c.point == "final" else "epoch 1"
    text = f"{c.test_text} (training objective of {point}, {numbers['epochs']} epochs)"
    means = {o: v[c.point]["mean"] for o, v in opts.items()}
    nll = {o: v.get(f"nll_{c.point}", {}).get("mean") for o, v in opts.items()}
    second = None if any(m is None for m in nll.values()) else bool(c.test(nll)[0])  # type: ignore[arg-type]
    if any(v["seeds"] < numbers.get("seeds", 0) for v in opts.values()):  # an unfinished run: no verdict yet
        return Verdict(c.claim, c.source, text, "seed runs not finished", None, None, "n/a")
    if any(m is None for m in means.values()):
        return Verdict(c.claim, c.source, text, "runs missing or diverged", None, None, "n/a")
    holds, distance = c.test(means)
    pooled = _pooled([v[c.point]["sd"] for v in opts.values()])
    margin = None if pooled is None else distance / pooled
    # Robustness: every combination of neighbouring alphas, on the tuning runs (seed 0, tuning budget).
    choices = []
    for o, v in opts.items():
        grid = {g["alpha"]: g for g in v["grid"]}
        choices.append([(o, grid[a]) for a in _neighbours(v["alpha"], sorted(grid))])
    passed = total = 0
    for combo in itertools.product(*choices):
        values = {o: g[c.point] for o, g in combo}
        if all(x is not None and not g["diverged"] for (o, g), x in zip(combo, values.values(), strict=True)):
            total += 1
            passed += c.test(values)[0]  # type: ignore[arg-type]
    robust = f"{passed}/{total} neighbouring alpha sets (tuning runs, {numbers['tune_epochs']} ep)"
    return Verdict(c.claim, c.source, text, c.measured(means), bool(holds), margin, robust, second)


def _fmt(v: dict[str, float], names: tuple[str, ...]) -> str:
    return ", ".join(f"{paper.LEGEND[o]} {v[o]:.4f}" for o in names)


COMPARISONS = (
    Comparison(
        "Adagrad outperforms SGD-Nesterov by a large margin on sparse IMDB features",
        "imdb-logreg",
        "6.1, fig. 1 right",
        "SGD-N / AdaGrad >= 1.05",
        ("nesterov", "adagrad"),
        ratio_at_least("nesterov", "adagrad", 1.05),
        "final",
        lambda v: f"SGD-N / AdaGrad = {v['nesterov'] / v['adagrad']:.3f}",
    ),
    Comparison(
        "Adam converges as fast as Adagrad on sparse IMDB features",
        "imdb-logreg",
        "6.1, fig. 1 right",
        "|Adam - AdaGrad| <= 2 % of AdaGrad",
        ("adam", "adagrad"),
        within("adam", "adagrad", 0.02),
        "final",
        lambda v: f"Adam / AdaGrad = {v['adam'] / v['adagrad']:.3f}",
    ),
    Comparison(
        "Adam and RMSProp alike on IMDB",
        "imdb-logreg",
        "6.1, fig. 1 right",
        "|Adam - RMSProp| <= 2 % of RMSProp",
        ("adam", "rmsprop"),
        within("adam", "rmsprop", 0.02),
        "final",
        lambda v: f"Adam / RMSProp = {v['adam'] / v['rmsprop']:.3f}",
    ),
    Comparison(
        "Adam converges like SGD-Nesterov on MNIST logistic regression",
        "mnist-logreg",
        "6.1, fig. 1 left",
        "|Adam - SGD-N| <= 1 % of SGD-N",
        ("adam", "nesterov"),
        within("adam", "nesterov", 0.01),
        "final",
        lambda v: f"Adam / SGD-N = {v['adam'] / v['nesterov']:.4f}",
    ),
    Comparison(
        "Adagrad is the slowest on MNIST logistic regression (worst after epoch 1)",
        "mnist-logreg",
        "6.1, fig. 1 left",
        "AdaGrad > max(Adam, SGD-N)",
        ("adagrad", "adam", "nesterov"),
        worst("adagrad", ("adam", "nesterov")),
        "after_epoch_1",
        lambda v: _fmt(v, ("adagrad", "adam", "nesterov")),
    ),
    Comparison(
        "Adam beats the other optimisers on the MLP with dropout",
        "mnist-mlp",
        "6.2, fig. 2a",
        "Adam < min(others)",
        ("adam", "adagrad", "rmsprop", "nesterov", "adadelta"),
        best("adam", ("adagrad", "rmsprop", "nesterov", "adadelta")),
        "final",
        lambda v: _fmt(v, ("adam", "rmsprop", "nesterov", "adagrad", "adadelta")),
    ),
)


def _cnn_claim(name: str) -> Comparison:
    return Comparison(
        "Adam and SGD-Nesterov converge faster than Adagrad on the CNN",
        name,
        "6.3, fig. 3",
        "AdaGrad > max(Adam, SGD-N)",
        ("adagrad", "adam", "nesterov"),
        worst("adagrad", ("adam", "nesterov")),
        "final",
        lambda v: _fmt(v, ("adagrad", "adam", "nesterov")),
    )


# -- the bias-correction study --------------------------------------------------------------------------------
def _loss(x: float | None) -> str:
    return "diverged" if x is None else f"{x:.3f}"


def collapse_verdict(st: dict[str, Any], beta2: float = 0.9999, from_alpha: float = 3e-3) -> Verdict:
    """Without correction, beta2 = 0.9999: every run with alpha >= 3e-3 has collapsed after the first epoch."""
    claim = "Without bias correction training is unstable for beta2 close to 1: it collapses at large alpha"
    test = f"beta2 = {beta2:g}, no correction, alpha >= {from_alpha:g}: every seed collapsed after epoch 1"
    test += f" (cost >= {st['collapse_loss']:.2f} or diverged)"
    cells = [c for c in st["cells"] if c["beta2"] == beta2 and not c["bias_correction"] and c["alpha"] >= from_alpha]
    if not cells or any(c["n"] == 0 for c in cells):
        return Verdict(claim, "6.4, fig. 4", test, "runs missing", None, None, "n/a")
    k = sum(c["collapsed_after_epoch_1"] for c in cells)
    n = sum(c["n"] for c in cells)
    with_bc = [analysis.cell(st, beta2, True, c["alpha"]) for c in cells]
    bc_k = sum(c["collapsed_after_epoch_1"] for c in with_bc if c is not None)
    measured = "; ".join(
        f"alpha {c['alpha']:g}: {', '.join(_loss(x) for x in c['values_after_epoch_1'])}" for c in cells
    )
    measured += f" (with correction: {bc_k}/{n} collapsed)"
    margins = []
    for c in cells:
        m, sd = c["after_epoch_1"]["mean"], c["after_epoch_1"]["sd"]
        if c["after_epoch_1"]["missing"] == 0 and m is not None and sd:
            margins.append((m - st["collapse_loss"]) / sd)
    margin = min(margins) if margins and len(margins) == len(cells) else None
    return Verdict(claim, "6.4, fig. 4", test, measured, k == n, margin, f"{k}/{n} runs (alpha x seed) collapsed")


def worse_verdict(st: dict[str, Any], beta2: float = 0.9999, alpha: float = 1e-3) -> Verdict:
    """Without correction, beta2 = 0.9999, alpha = 1e-3: a higher cost after epoch 1 than with it."""
    claim = "Without bias correction (beta2 = 0.9999) training is worse at the default alpha"
    test = f"alpha = {alpha:g}: no-correction cost > corrected cost after epoch 1"
    off, on = analysis.cell(st, beta2, False, alpha), analysis.cell(st, beta2, True, alpha)
    if off is None or on is None or not off["n"] or not on["n"]:
        return Verdict(claim, "6.4, fig. 4", test, "runs missing", None, None, "n/a")
    a, b = off["after_epoch_1"], on["after_epoch_1"]
    inf = math.inf
    m_off = inf if a["missing"] else a["mean"]
    holds = b["mean"] is not None and m_off > b["mean"]
    pooled = _pooled([a["sd"], b["sd"]]) if not a["missing"] and not b["missing"] else None
    margin = None if pooled is None or b["mean"] is None else (m_off - b["mean"]) / pooled
    measured = f"no correction {_loss(a['mean'])}, with {_loss(b['mean'])}"
    pairs = [
        (x, y)
        for key in ("values_after_epoch_1", "values_final")
        for x, y in zip(off[key], on[key], strict=True)
        if y is not None
    ]
    k = sum(x is None or x > y for x, y in pairs)
    return Verdict(
        claim, "6.4, fig. 4", test, measured, holds, margin, f"{k}/{len(pairs)} seed pairs (epoch 1 and end)"
    )


def trend_verdict(st: dict[str, Any]) -> Verdict:
    """The paper's wording: instability without correction grows as beta2 approaches 1."""
    claim = "Without bias correction, the closer beta2 is to 1 the more runs are unstable"
    test = "collapsed runs without correction rise with beta2 and exceed those with it at beta2 = 0.9999"

    def count(b2: float, bc: bool) -> int:
        return sum(c["collapsed_after_epoch_1"] for c in st["cells"] if c["beta2"] == b2 and c["bias_correction"] == bc)

    if not all(c["n"] for c in st["cells"]):
        return Verdict(claim, "6.4, fig. 4", test, "runs missing", None, None, "n/a")
    off = [count(b2, False) for b2 in st["beta2s"]]
    on = [count(b2, True) for b2 in st["beta2s"]]
    holds = all(x <= y for x, y in itertools.pairwise(off)) and off[-1] > on[-1]
    measured = "collapsed without / with: " + ", ".join(
        f"beta2 {b2:g}: {x}/{y}" for b2, x, y in zip(st["beta2s"], off, on, strict=True)
    )
    n = sum(c["n"] for c in st["cells"] if c["beta2"] == st["beta2s"][0] and not c["bias_correction"])
    return Verdict(claim, "6.4, fig. 4", test, measured, holds, None, f"counts over {n} runs per beta2")


def judge(numbers: dict[str, dict[str, Any]], study_numbers: dict[str, Any]) -> list[Verdict]:
    """Every verdict, in the paper's order; ``numbers`` maps experiment names to :func:`analysis.comparison`."""
    out = [judge_comparison(c, numbers[c.experiment]) for c in COMPARISONS if c.experiment in numbers]
    for name in ("fmnist-cnn", "cifar10-cnn"):
        if name in numbers:
            out.append(judge_comparison(_cnn_claim(name), numbers[name]))
    out += [collapse_verdict(study_numbers), worse_verdict(study_numbers), trend_verdict(study_numbers)]
    return out
