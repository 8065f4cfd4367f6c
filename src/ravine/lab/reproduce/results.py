"""The reproduction's results document (``results.json``, format ``ravine.reproduction/1``), its tables and its
figures, from a finished (or partly finished) plan.

The generic section of ``ravine report`` draws its ``figures`` and ``tables`` and its ``settings`` and
``environment`` (docs/report.md); the rest (``verdicts``, ``experiments``, ``study``) holds every number they
were made from.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

import ravine
from ravine.lab.reproduce import analysis, figures, paper, verdicts
from ravine.lab.reproduce.runner import Plan

FORMAT = "ravine.reproduction/1"
TITLE = "Reproduction of Kingma & Ba (2015), section 6"


def environment(workers: int) -> dict[str, Any]:
    return {
        "ravine": ravine.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "workers": workers,
    }


def _g(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def alpha_table(numbers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for n in numbers.values():
        for o in n["optimizers"].values():
            edge = " (grid edge)" if o["alpha_at_edge"] else ""
            alpha = f"{o['alpha']:g}{edge}" if o["alpha"] is not None else "none converged"
            rows.append(
                [
                    n["name"],
                    o["legend"],
                    alpha if o["tuned"] else "tuning not finished",
                    f"{_g(o['after_epoch_1']['mean'])} ± {_g(o['after_epoch_1']['sd'])}",
                    f"{_g(o['final']['mean'])} ± {_g(o['final']['sd'])}",
                    f"{_g(o['nll_final']['mean'])} ± {_g(o['nll_final']['sd'])}",
                    o["seeds"],
                ]
            )
    return {
        "title": "Chosen alpha and training cost (mean ± sd over seeds)",
        "columns": [
            "experiment",
            "optimiser",
            "alpha",
            "objective, epoch 1",
            "objective, last epoch",
            "eval NLL, end",
            "seeds",
        ],
        "rows": rows,
        "note": "objective: the mean minibatch training cost of the epoch (L2 term and dropout included); eval NLL: "
        "the negative log-likelihood of the evaluation sample in eval mode. alpha: the value of the half-decade "
        "grid and its quarter-decade refinement with the lowest objective in the last epoch of the tuning budget "
        "(seed 0); the seeds 1..S did not take part in the choice.",
    }


def study_table(study: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for c in study["cells"]:
        if not c["n"]:
            rows.append(
                [f"{c['beta2']:g}", "on" if c["bias_correction"] else "off", f"{c['alpha']:g}", "not run yet", "", ""]
            )
            continue
        rows.append(
            [
                f"{c['beta2']:g}",
                "on" if c["bias_correction"] else "off",
                f"{c['alpha']:g}",
                f"{_g(c['after_epoch_1']['mean'], 3)} ± {_g(c['after_epoch_1']['sd'], 3)}",
                f"{_g(c['final']['mean'], 3)} ± {_g(c['final']['sd'], 3)}",
                f"{c['collapsed_after_epoch_1']}/{c['n']}",
            ]
        )
    return {
        "title": "Bias-correction study (MNIST MLP, beta1 = 0.9)",
        "columns": ["beta2", "correction", "alpha", "after epoch 1", "at the end", "collapsed after epoch 1"],
        "rows": rows,
        "note": f"collapsed: diverged, or a cost >= {study['collapse_loss']:.3f} (half of ln 10).",
    }


def document(plan: Plan, wall_s: float | None) -> dict[str, Any]:
    """The results document (figures not drawn: see :func:`write`)."""
    numbers = {e.name: analysis.comparison(plan, e) for e in plan.experiments}
    study = analysis.study(plan)
    found = verdicts.judge(numbers, study)
    return {
        "format": FORMAT,
        "title": TITLE,
        "paper": paper.PAPER,
        "settings": plan.settings.to_dict(),
        "environment": environment(plan.settings.workers),
        "wall_s": wall_s,
        "complete": all(n["complete"] for n in numbers.values()) and study["complete"],
        "tables": [
            {
                "title": "Verdicts on the paper's claims",
                "columns": verdicts.COLUMNS,
                "rows": [v.row() for v in found],
                "note": "Verdict: the test on the training objective (the mean minibatch cost of the epoch). Margin: "
                "distance of the means from the test's boundary in pooled seed sd (positive: on the side of the "
                "claim). Robust: share of neighbouring alpha choices that pass the same test. On eval NLL: the same "
                "test on the eval-mode negative log-likelihood (the bias-correction rows are judged on it: -).",
            },
            alpha_table(numbers),
            study_table(study),
        ],
        "verdicts": [v.to_dict() for v in found],
        "experiments": numbers,
        "study": study,
        "runs": sum(r.key() in plan.log for r in plan.known()),  # the log may hold runs of other settings too
    }


def write(plan: Plan, out: str | os.PathLike, wall_s: float | None = None) -> dict[str, Any]:
    """Draw the figures into ``out`` and write ``out/results.json``; returns the document."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = document(plan, wall_s)
    doc["figures"] = figures.draw(doc["experiments"], doc["study"], out)
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False), encoding="utf-8")
    tmp.replace(out / "results.json")  # never a half-written results.json
    return doc


def markdown(doc: dict[str, Any]) -> str:
    """The verdict table as Markdown (for the README and the terminal)."""
    t = doc["tables"][0]
    lines = ["| " + " | ".join(t["columns"]) + " |", "|" + "---|" * len(t["columns"])]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in t["rows"]]
    return "\n".join(lines)
