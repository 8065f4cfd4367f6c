"""``benchmarks/lr_finder.py --rescore``: a ``--json`` file's stored curves give back, through JSON, the features
the benchmark computed from the live sweeps, so a rule can be re-selected without training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import _lr_finder_select as select
import lr_finder as bench
import ravine
from ravine.lr_finder import find_lr


def _sweeps(seed: int, momentum: float) -> list:
    torch.manual_seed(seed)
    x = torch.randn(512, 8)
    y = x @ torch.ones(8, 1) + 0.3 * torch.randn(512, 1)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 512, 32)]
    out = []
    for s in range(2):
        model = torch.nn.Linear(8, 1)
        opt = ravine.optim.SGD(model.parameters(), lr=0.1, momentum=momentum)
        out.append(find_lr(model, opt, torch.nn.functional.mse_loss, batches, budget=400, seed=s))
    return out


def test_rescore_recomputes_the_features_from_the_stored_curves(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = []
    for case, (seed, momentum) in {"a": (0, 0.9), "b": (1, 0.5), "c": (2, 0.0)}.items():
        found = _sweeps(seed, momentum)
        rows.append({
            "case": case, "split": "dev", "optimizer": "nesterov", "family": found[0].family, "tuned_lr": 0.01,
            "budget_steps": 400, "features": select.features(found[0]),
            "seed_features": [select.features(r) for r in found], "curves": [bench.curve(r) for r in found],
        })  # fmt: skip
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows, default=str))
    again = bench.rescored(json.loads(path.read_text()))
    for before, after in zip(rows, again, strict=True):
        assert after["features"] == before["features"] and after["seed_features"] == before["seed_features"]
    bench.print_selection(again)
    assert "chosen: anchor" in capsys.readouterr().out
