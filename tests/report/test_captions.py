"""The "what this shows" lines follow the numbers: built from small results documents whose answer is known by
hand (a tie within seed noise by its definition, sqrt(sd_a^2 + sd_b^2); ratios of rates and of steps), and
checked on real comparisons against the records they summarise."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ravine.report.html import captions


def agg(mean: float | None, sd: float | None, *, lr: float, steps: float | None = None, reached: int = 0,
        of: int = 3, findings: list | None = None, metric: str = "test_acc") -> dict[str, Any]:  # fmt: skip
    return {
        "lr": lr,
        "n": of,
        "seeds": list(range(1, of + 1)),
        "final": {metric: {"mean": mean, "sd": sd}},
        "target": {"reached": reached, "of": of, "steps": {"mean": steps, "sd": None}, "seconds": {"mean": None}},
        "curve": {"step": [], "epoch": []},
        "findings": [] if findings is None else findings,
    }


def row(name: str, tuned: dict | None, default: dict | None, *, chosen: float | None, default_lr: float,
        edge: bool = False, grid: list | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "optimizer": name,
        "chosen_lr": chosen,
        "chosen_at_edge": edge,
        "default_lr": default_lr,
        "grid": grid or [],
        "tuned": tuned,
        "default": default,
    }


def results(rows: list[dict], *, acc: bool = True, seeds: int = 3, epochs: int = 10) -> dict[str, Any]:
    target = {"metric": "val_acc", "value": 0.92} if acc else {"metric": "val_loss", "value": 0.5}
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return {
        "task": {"name": "t", "summary": "", "target": target},
        "protocol": {"seeds": seeds, "epochs": epochs, "defaults": True},
        "summary": rows,
    }


# -- ranking: ties are judged by the definition -------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    m0=st.floats(0.5, 0.99),
    gap=st.floats(0.0, 0.05),
    s0=st.floats(1e-4, 0.02),
    s1=st.floats(1e-4, 0.02),
)
def test_a_tie_is_a_gap_within_the_noise_of_a_difference_of_two_runs(m0: float, gap: float, s0: float, s1: float):
    noise = math.sqrt(s0**2 + s1**2)
    assume(abs(gap - noise) > 1e-6 * noise)  # the boundary itself is a matter of rounding
    doc = results(
        [
            row("adam", agg(m0, s0, lr=1e-3), None, chosen=1e-3, default_lr=1e-3),
            row("sgd", agg(m0 - gap, s1, lr=0.1), None, chosen=0.1, default_lr=1e-3),
        ]
    )
    text = captions.task_ranking(doc)
    assert text.startswith("Tuned, adam ranks first")
    assert ("sgd ties with it within seed noise" in text) == (gap <= noise), text
    if gap > noise:
        assert f"sgd {gap * 100:.2f} points behind ({gap / noise:.1f}x the seed noise)" in text


def test_ranking_names_the_leader_the_ties_and_the_gaps():
    doc = results(
        [
            row("adagrad", agg(0.9257, 0.0003, lr=0.1), None, chosen=0.1, default_lr=0.01),
            row("rmsprop", agg(0.9254, 0.0004, lr=1e-3), None, chosen=1e-3, default_lr=0.01),
            row("adam", agg(0.9244, 0.0004, lr=3e-3), None, chosen=3e-3, default_lr=1e-3),
            row("nesterov", agg(0.9223, 0.0007, lr=0.1), None, chosen=0.1, default_lr=1e-3),
        ]
    )
    text = captions.task_ranking(doc)
    # |0.9257 - 0.9254| = 0.03 points <= hypot(0.03, 0.04) = 0.05 points: a tie; adam: 0.13 > 0.05: behind, 2.6x;
    # nesterov: 0.34 points against hypot(0.03, 0.07) = 0.0762: 4.5x.
    assert "adagrad ranks first (92.57 ± 0.03 % test accuracy)" in text
    assert "rmsprop ties with it within seed noise" in text
    assert "adam 0.13 points behind (2.6x the seed noise)" in text
    assert "nesterov 0.34 points behind (4.5x the seed noise)" in text


def test_one_seed_says_the_noise_is_not_measured():
    doc = results(
        [
            row("adam", agg(0.93, None, lr=1e-3, of=1), None, chosen=1e-3, default_lr=1e-3),
            row("sgd", agg(0.92, None, lr=0.1, of=1), None, chosen=0.1, default_lr=1e-3),
        ],
        seeds=1,
    )
    text = captions.task_ranking(doc)
    assert "sgd 1.00 points behind" in text and "With 1 seed per optimiser the seed noise is not measured" in text
    assert "tie" not in text


def test_a_loss_task_ranks_by_test_loss():
    doc = results(
        [
            row("sgd", agg(0.30, 0.01, lr=0.1, metric="test_loss"), None, chosen=0.1, default_lr=1e-3),
            row("adam", agg(0.40, 0.01, lr=1e-3, metric="test_loss"), None, chosen=1e-3, default_lr=1e-3),
        ],
        acc=False,
    )
    text = captions.task_ranking(doc)
    assert "sgd ranks first (test loss 0.3 ± 0.01)" in text and "adam 0.1 higher (7.1x the seed noise)" in text


# -- rates, defaults, speed -----------------------------------------------------------------------------------
def test_rates_say_how_many_times_larger_one_rate_is():
    grid = [{"lr": 1.0, "select": None, "diverged": True}, {"lr": 0.3, "select": 0.9, "diverged": False}]
    doc = results(
        [
            row("adam", agg(0.92, 0.01, lr=0.01), None, chosen=0.01, default_lr=1e-3),
            row("rmsprop", agg(0.92, 0.01, lr=0.01), None, chosen=0.01, default_lr=1e-2),
            row("sgd", agg(0.91, 0.01, lr=0.3), None, chosen=0.3, default_lr=1e-3, edge=True, grid=grid),
        ]
    )
    text = captions.task_rates(doc)
    assert text.startswith("sgd needs a 30x larger rate than adam and rmsprop (lr 0.3 against 0.01).")
    assert "sgd chose a rate at the edge of the grid" in text
    assert "Diverged on the grid: sgd at lr 1." in text


def test_rates_when_every_optimiser_agrees():
    grid = [{"lr": 0.01, "select": 0.9, "diverged": False}]
    doc = results([row(n, agg(0.9, 0.01, lr=0.01), None, chosen=0.01, default_lr=0.01, grid=grid) for n in "ab"])
    assert captions.task_rates(doc) == "Every optimiser chose lr 0.01. No grid run diverged."
    for r in doc["summary"]:
        r["grid"] = []  # rates chosen without a grid (an LR range test): nothing to say about grid runs
    assert captions.task_rates(doc) == "Every optimiser chose lr 0.01."


def test_defaults_say_what_an_untuned_rate_costs():
    doc = results(
        [
            row("adam", agg(0.9244, 0.0004, lr=1e-3), agg(0.9244, 0.0004, lr=1e-3), chosen=1e-3, default_lr=1e-3),
            row("sgd", agg(0.9223, 0.0007, lr=0.1), agg(0.8970, 0.0004, lr=1e-3), chosen=0.1, default_lr=1e-3),
            row("rmsprop", agg(0.9254, 0.0004, lr=1e-3), agg(0.8957, 0.0214, lr=1e-2), chosen=1e-3, default_lr=1e-2),
        ]
    )
    text = captions.task_defaults(doc)
    # sgd: 92.23 - 89.70 = 2.53 points; rmsprop: 92.54 - 89.57 = 2.97 points, named first (the larger loss)
    assert "rmsprop ends 2.97 points below its tuned rate (lr 0.01 against 0.001) and sgd ends 2.53 points" in text
    assert "adam's default is also the tuned rate" in text


def test_speed_gives_the_ratio_of_steps_and_who_never_gets_there():
    doc = results(
        [
            row("adagrad", agg(0.92, 0.01, lr=0.1, steps=586, reached=3), None, chosen=0.1, default_lr=0.01),
            row("adam", agg(0.92, 0.01, lr=3e-3, steps=1108, reached=3), None, chosen=3e-3, default_lr=1e-3),
            row("rmsprop", agg(0.92, 0.01, lr=1e-3, steps=1433, reached=2), None, chosen=1e-3, default_lr=1e-2),
            row("sgd", agg(0.90, 0.01, lr=0.1), None, chosen=0.1, default_lr=1e-3),
        ]
    )
    text = captions.task_speed(doc)
    # 1108 / 586 = 1.89; 1433 / 586 = 2.45
    assert text.startswith("adagrad reaches validation accuracy ≥ 0.92 first, at step 586 (3/3 seeds)")
    assert "adam needs 1.9x as many steps and rmsprop needs 2.4x as many steps" in text
    assert "some seeds fall short: rmsprop (2/3)" in text and text.endswith("sgd never reaches it.")


def test_findings_are_counted_and_named():
    f = {"seed": 2, "kind": "plateau", "severity": "warning", "first_step": 3, "last_step": 9}
    doc = results(
        [
            row("adam", agg(0.9, 0.01, lr=1e-3), agg(0.9, 0.01, lr=1e-3, findings=[f]), chosen=1e-3, default_lr=1e-3),
            row("sgd", agg(0.9, 0.01, lr=0.1), None, chosen=0.1, default_lr=1e-3),
        ]
    )
    assert captions.task_findings(doc) == (
        "The doctor examined the 9 reported runs and raised 1 finding: plateau (adam at its default rate, seed 2)."
    )
    doc["summary"][0]["default"]["findings"] = None
    doc["summary"][0]["tuned"]["findings"] = None
    doc["summary"][1]["tuned"]["findings"] = None
    assert "not installed" in captions.task_findings(doc)


# -- real comparisons -------------------------------------------------------------------------------------------
def test_task_captions_follow_a_real_comparison(quadratic: Path):
    doc = json.loads((quadratic / "results.json").read_text())
    lead = doc["summary"][0]
    mean = lead["tuned"]["final"]["test_loss"]["mean"]
    assert captions.task_ranking(doc).startswith(f"Tuned, {lead['optimizer']} ranks first (test loss {mean:.4g}")
    diverged = [(r["optimizer"], g["lr"]) for r in doc["summary"] for g in r["grid"] if g["diverged"]]
    assert diverged, "lr 30 should diverge on the quadratic"
    for name, rate in diverged:
        assert f"{name} at lr {rate:g}" in captions.task_rates(doc)


def _reaching(text: str) -> set[str]:
    """The optimisers a paths caption says reach the target from every start."""
    head = text.split(" reach")[0].split(", ", 1)[1]
    return set(re.findall(r"(\w+) \(lr ", head))


def test_landscape_captions_follow_the_records(landscapes, given):
    for folder in (landscapes.path, given.path):
        doc = json.loads((folder / "results.json").read_text())
        for land in doc["landscapes"]:
            recs = [r for r in doc["records"] if r["landscape"] == land["name"]]
            n = len(land["starts"])
            text = captions.landscape_paths(land, recs)
            every = {s["optimizer"] for s in land["ranking"] if s["reached"] == n}
            if every:
                assert _reaching(text) == every, text
            else:
                assert "no optimiser reaches" in text
            defaults = {r["optimizer"] for r in recs if r["lr_source"] == "default"}
            ok = {
                o
                for o in defaults
                if all(r["reached"] for r in recs if r["optimizer"] == o and r["lr_source"] == "default")
            }
            if defaults and not ok:
                assert "At their default rates none does." in text
            for name in ok:
                assert name in text.split("At ")[-1]
            loss = captions.landscape_loss(land, recs)
            for name in {r["optimizer"] for r in recs if r["diverged"] and r["lr_source"] != "default"}:
                assert name in loss.split(";")[-1] and "diverged" in loss


def test_lr_effects_caption_lists_each_rate_with_its_measured_effect(given):
    doc = json.loads((given.path / "results.json").read_text())
    land, recs = doc["landscapes"][0], doc["records"]
    text = captions.lr_effects(land, recs, "sgd")
    for r in recs:
        if r["start_index"] == 0:
            assert f"lr {r['lr']:g} {r['effect']}" in text
    # bowl (L = 2): every lr above 2/L = 1 diverges, the run at 2.1 among them (docs/compare.md)
    assert "lr 2.1 diverging" in text


def test_overall_caption_matches_the_overall_ranking(landscapes):
    doc = json.loads((landscapes.path / "results.json").read_text())
    rows = doc["overall"]
    text = captions.overall(rows, len(doc["landscapes"]))
    assert text.startswith(f"{rows[0]['optimizer']} has the best mean rank ({rows[0]['mean_rank']:.2f} over 2")


def test_overview_caption_names_each_landscapes_winner(landscapes):
    doc = json.loads((landscapes.path / "results.json").read_text())
    text = captions.overview(doc["landscapes"])
    for land in doc["landscapes"]:
        winner = land["ranking"][0]["optimizer"]
        part = next(p for p in text.split("the best: ")[1].rstrip(".").split("; ") if land["title"] in p)
        assert part.startswith(f"{winner} on ")


def test_doctor_summary_names_the_worst_finding(doctor):
    report = json.loads((doctor / "doctor.json").read_text())
    text = captions.doctor_summary(report)
    worst = report["findings"][0]
    assert f"the worst is {worst['kind']} from step {worst['first_step']}" in text
    assert f"in {report['steps']} steps" in text
    healthy = {"findings": [], "skipped": [{"check": "saddle", "reason": "x"}], "steps": 50}
    assert (
        captions.doctor_summary(healthy) == "The doctor found no problem in 50 steps; 1 check could not run (saddle)."
    )


@pytest.mark.parametrize(("ratio", "text"), [(30.0, "30x"), (3.0, "3x"), (1.5, "1.5x"), (100.0, "100x")])
def test_times(ratio: float, text: str):
    from ravine.report.html.markup import times

    assert times(ratio) == text
