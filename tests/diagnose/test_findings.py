"""Finding and Report: the contract (ten kinds, three severities, the JSON shape) and its round trip."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from ravine.diagnose import KINDS, SEVERITIES, Finding, Report, Skipped, Thresholds


def test_the_ten_kinds_and_three_severities_of_the_contract() -> None:
    assert KINDS == (
        "divergence",
        "exploding_gradients",
        "vanishing_gradients",
        "dead_units",
        "saturation",
        "plateau",
        "lr_too_low",
        "oscillation",
        "overfitting",
        "saddle",
    )
    assert SEVERITIES == ("info", "warning", "error")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "nan_loss", "kind must be one of"),
        ("severity", "fatal", "severity must be one of"),
        ("last_step", 3, "last_step (3) must be >= first_step (5)"),
    ],
)
def test_a_finding_refuses_bad_fields(field: str, value: object, message: str) -> None:
    fields = {"kind": "plateau", "severity": "warning", "first_step": 5, "last_step": 9, "message": "m"}
    fields[field] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        Finding(**fields)  # type: ignore[arg-type]


def test_report_json_round_trip_and_strict_json() -> None:
    f = Finding(
        "divergence",
        "error",
        10,
        20,
        "NaN",
        {"best_loss": 0.5, "last": float("inf"), "layers": ("a", "b")},
        ("lower the lr",),
    )
    r = Report((f,), (Skipped("overfitting", "no validation metrics"),), 21, {"optimizer": "SGD"})
    text = json.dumps(r.to_json(), allow_nan=False)  # strict JSON: no NaN/Infinity literals
    data = json.loads(text)
    assert set(data["findings"][0]) == {"kind", "severity", "first_step", "last_step", "message", "evidence", "advice"}
    assert data["findings"][0]["evidence"]["last"] == "inf"
    assert data["skipped"] == [{"check": "overfitting", "reason": "no validation metrics"}]
    back = Report.from_json(data)
    assert back.findings[0].kind == "divergence" and back.findings[0].advice == ("lower the lr",)
    assert back.steps == 21 and not back.ok and back.worst == "error"


def test_ok_means_no_warning_or_error() -> None:
    info = Finding("divergence", "info", 1, 2, "spike recovered")
    assert Report((info,)).ok
    assert Report((info,)).kinds() == [] and Report((info,)).kinds("info") == ["divergence"]
    with pytest.raises(ValueError, match="min_severity"):
        Report().kinds("bad")


def test_every_threshold_is_documented_with_its_source_and_validated() -> None:
    doc = Thresholds.__doc__ or ""
    for f in dataclasses.fields(Thresholds):
        assert f"{f.name}:" in doc, f"Thresholds.{f.name} is not documented"
    with pytest.raises(ValueError, match=r"Thresholds\.dead_fraction must be in"):
        Thresholds(dead_fraction=1.5)
    with pytest.raises(ValueError, match=r"Thresholds\.min_steps must be > 0"):
        Thresholds(min_steps=0)
    with pytest.raises(ValueError, match="oscillation_agreement"):
        Thresholds(oscillation_agreement=0.2)
