"""The doctor's family benchmark: the split, the generator's coverage, verification that drops, a scoring smoke.

The split is checked against SHA-256 recomputed here (hashlib as the outside reference), the Wilson interval
against scipy's ``binomtest(...).proportion_ci(method="wilson")``.
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import doctor_families as D
from doctor_families import core, data, loop, recipes, score
from ravine.diagnose import KINDS


def _u(name: str) -> float:
    return int(hashlib.sha256(f"ravine-doctor-families-v1:{name}".encode()).hexdigest()[:8], 16) / 16**8


def test_split_is_the_documented_hash_rule_and_disjoint() -> None:
    groups: dict[str, list[str]] = {}
    for f in D.FAMILIES.values():
        g = "healthy" if not f.labels else f.labels[0] if len(f.labels) == 1 else "co-occurring"
        groups.setdefault(g, []).append(f.name)
    for names in groups.values():
        ranked = sorted(names, key=_u, reverse=True)
        held = set(ranked[: max(1, round(0.4 * len(names)))])
        for n in names:
            assert D.split_of(n) == ("heldout" if n in held else "dev"), n
            assert D.split_of(n) == D.split_of(n)
    dev, held = D.runs("dev"), D.runs("heldout")
    assert {r.family for r in dev}.isdisjoint({r.family for r in held})
    assert len(dev) + len(held) == len(D.runs())
    assert len({r.name for r in D.runs()}) == len(D.runs())  # no two runs share a name (or a seed in a family)


def test_every_kind_healthy_and_co_occurring_faults_in_both_splits() -> None:
    for split in D.SPLITS:
        fams = [f for f in D.FAMILIES.values() if f.split == split]
        labelled = {k for f in fams for k in f.labels}
        assert labelled == set(KINDS), (split, set(KINDS) - labelled)
        assert any(not f.labels for f in fams), split
        pairs = {f.labels for f in fams if len(f.labels) == 2}
        assert {("saturation", "vanishing_gradients"), ("exploding_gradients", "divergence")} <= pairs, split


def test_generator_covers_the_required_axes() -> None:
    runs = D.runs()
    assert len(runs) >= 300
    fams = D.FAMILIES.values()
    archs = " ".join(f.arch for f in fams)
    for a in ("linear", "mlp", "cnn", "rnn", "lstm", "transformer", "resnet 4 blocks, no norm", "layer norm"):
        assert a in archs, a
    depths = {int(w.split("x")[0]) for f in fams for w in f.arch.split() if "x" in w and w.split("x")[0].isdigit()}
    assert min(depths) <= 2 and max(depths) >= 12, depths
    assert {"mnist", "fashion", "imdb", "reg", "cls", "spirals"} <= {f.data for f in fams}
    opts = {r.optimiser for r in runs}
    assert any(o.startswith("torch.") for o in opts) and any(o.startswith("ravine.") for o in opts)
    assert len(opts) >= 12
    for f in fams:  # each family varies its fault's severity or its seed, and its optimiser
        assert len(f.optimisers) >= 2 and len(f.severities) * len(f.seeds) >= 2, f.name


def _linreg_family(labels: tuple[str, ...], c: float) -> core.Family:
    def build(spec: core.RunSpec, doctor: bool) -> core.Verdict:
        lam = data.task("linreg", 1024).curvature
        s = recipes.setup(spec, "linreg", "linear", n=1024, lr=c / lam, batch=1024, steps=150)
        return recipes.diverges(s, doctor, calm=0.2)

    return core.Family("test-linreg", labels, "linear", "linreg", "", (("torch.sgd", 1.0),), (1.0,), build, (0,))


def test_verification_drops_a_mislabelled_run_and_keeps_a_true_one() -> None:
    # lr = 0.5 / lambda_max converges: a "divergence" label on it must fail its measurement and be dropped
    wrong = _linreg_family(("divergence",), 0.5)
    r = score.execute(wrong, wrong.runs()[0])
    assert r.dropped is not None and "divergence not verified" in r.dropped
    assert score.summarise([r], "live").dropped == 1
    # lr = 3 / lambda_max (beyond GD's limit 2 / lambda_max, Cohen et al. 2021) does diverge
    right = _linreg_family(("divergence",), 3.0)
    r = score.execute(right, right.runs()[0])
    assert r.dropped is None and r.labels == ["divergence"]
    assert "lr_too_low" in r.absent and "divergence" not in r.absent


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 10), (19, 28), (28, 28), (97, 100)])
def test_wilson_interval_matches_scipy(k: int, n: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = score.wilson(k, n)
    assert lo == pytest.approx(ci.low, abs=1e-9) and hi == pytest.approx(ci.high, abs=1e-9)
    assert all(math.isnan(v) for v in score.wilson(0, 0))


def test_score_smoke_on_three_runs() -> None:
    fams = [D.FAMILIES["ok-converged-linreg"], D.FAMILIES["saddle-deeplinear-reg"], _linreg_family(("divergence",), 3)]
    assert all(f.split == "dev" for f in fams[:2])  # the smoke never looks at held-out families
    results = [score.execute(f, f.runs()[0]) for f in fams]
    assert all(r.crash is None for r in results)
    for view in score.VIEWS:
        s = score.summarise(results, view)
        assert s.runs + s.dropped == 3
        for k in s.kinds:
            assert 0 <= k.hits <= k.labelled and 0 <= k.false_alarms <= k.forbidden
        text = score.render(s)
        assert "overall recall" in text and all(kind in text for kind in s.visible)
    assert score.summarise(results, "csv").visible == score.SCALAR_KINDS
    before = [r.csv for r in results]
    assert [r.csv for r in score.rediagnose_csv(results)] == before  # the saved log is the CSV view's input
    with pytest.raises(ValueError, match="view must be one of"):
        score.summarise(results, "tensorboard")


def test_bad_names_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        D.runs("test")
    with pytest.raises(ValueError, match="family must be a registered"):
        D.split_of("no-such-family")
    spec = replace(D.FAMILIES["ok-converged-linreg"].runs()[0], optimiser="sgdd")
    with pytest.raises(ValueError, match="optimiser must be one of"):
        loop.train(recipes.setup(spec, "linreg", "linear", n=64, steps=1), doctor=False)


def test_score_command_line_smoke(tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "dev.json"
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    cmd = [sys.executable, str(root / "benchmarks" / "doctor.py"), "score", "--split", "dev"]
    cmd += ["--family", "saddle-deeplinear-reg", "--limit", "1", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=True)
    assert "live view: " in done.stdout and "csv view: " in done.stdout
    saved = json.loads(out.read_text())
    assert saved["split"] == "dev" and [r["family"] for r in saved["runs"]] == ["saddle-deeplinear-reg"]
    bad = subprocess.run([*cmd[:3], "--split", "test"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
