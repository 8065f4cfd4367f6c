"""Reading a result directory into one plain record, checked before any HTML is written.

A directory holds a ``results.json`` whose ``"format"`` names its kind (docs/report.md lists them), or it is a
doctor folder: a doctor log (JSONL or CSV) and/or the doctor's report (``ravine doctor LOG --json FILE``). Anything
else, a missing file or a damaged one, raises :class:`ReportError` with one line that says what is wrong where.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LANDSCAPES = "ravine.landscape-comparison/1"
TASK = "ravine.task-comparison/1"
LR_FINDER = "ravine.lr-finder/1"
REPRODUCTION = "ravine.reproduction/1"
DOCTOR = "ravine.doctor-report"
KNOWN = (LANDSCAPES, TASK, LR_FINDER, REPRODUCTION)

#: The doctor series the page draws, when the log has them.
DOCTOR_SERIES = ("loss", "val_loss", "grad_norm", "lr")


class ReportError(Exception):
    """The directory cannot be made into a page; ``str(e)`` is one line naming the file and the problem."""


@dataclass(frozen=True)
class DoctorRun:
    """One diagnosed run: the doctor's report (``Report.to_json()``) and the series of its log, if found.

    ``series`` maps a name of :data:`DOCTOR_SERIES` to (steps, values); non-finite values are NaN or inf.
    """

    name: str
    report: Mapping[str, Any] | None
    report_file: str | None = None
    log_file: str | None = None
    series: Mapping[str, tuple[list[int], list[float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultDir:
    """A loaded result directory. ``format`` is one of :data:`KNOWN`, :data:`DOCTOR` or another ``ravine.*``
    format that only carries the generic ``figures``/``tables``; ``data`` is its results.json (empty for a doctor
    folder without one)."""

    path: Path
    format: str
    data: Mapping[str, Any]
    runs: tuple[DoctorRun, ...] = ()

    def file(self, name: str) -> Path:
        """A file the results name, inside the directory (a name that leads outside it is refused)."""
        p = (self.path / name).resolve()
        if not p.is_relative_to(self.path.resolve()):
            raise ReportError(f"{self.path / 'results.json'}: file {name!r} lies outside the result directory")
        return p


# -- structure checks: just what the page reads, so that a damaged file fails here with its path ------------------
NUM = (int, float)
NUMN = (int, float, type(None))
INTN = (int, type(None))


@dataclass(frozen=True)
class Nullable:
    spec: Any


AGGREGATE = {
    "lr": NUM,
    "n": int,
    "final": dict,
    "target": {"reached": int, "of": int, "steps": {"mean": NUMN}},
    "curve": {"step": list, "epoch": list},
    "findings": (list, type(None)),
}
SCHEMAS: dict[str, dict[str, Any]] = {
    LANDSCAPES: {
        "settings": dict,
        "landscapes": [
            {
                "name": str,
                "title": str,
                "dim": int,
                "starts": list,
                "steps": int,
                "target": NUM,
                "f_star": NUMN,
                "unbounded_below": bool,
                "illustrates": str,
                "tuning": list,
                "ranking": [{"optimizer": str, "rank": int, "lr": NUM, "reached": int, "diverged": int, "steps": int}],
            }
        ],
        "overall": [{"optimizer": str, "mean_rank": NUM, "wins": int, "all_starts_reached": int}],
        "records": [
            {
                "landscape": str,
                "optimizer": str,
                "lr": NUM,
                "lr_source": str,
                "start_index": int,
                "reached": bool,
                "diverged": bool,
                "steps_to_target": INTN,
                "gap": NUMN,
                "final_value": NUMN,
                "effect": str,
            }
        ],
    },
    TASK: {
        "task": {"name": str, "summary": str, "target": {"metric": str, "value": NUM}},
        "protocol": {"optimizers": list, "seeds": int, "epochs": int, "batch_size": (int, str)},
        "environment": dict,
        "summary": [
            {
                "optimizer": str,
                "rank": int,
                "chosen_lr": NUMN,
                "chosen_at_edge": bool,
                "default_lr": NUMN,
                "grid": [{"lr": NUM, "select": NUMN, "diverged": bool}],
                "tuned": Nullable(AGGREGATE),
                "default": Nullable(AGGREGATE),
            }
        ],
        "runs": list,
    },
}
GENERIC = {
    "figures": [{"file": str, "title": str, "caption": str}],
    "tables": [{"title": str, "columns": list, "rows": list}],
}
DOCTOR_REPORT = {
    "findings": [{"kind": str, "severity": str, "first_step": int, "last_step": int, "evidence": dict, "advice": list}],
    "skipped": [{"check": str, "reason": str}],
    "steps": int,
}


def check(data: Any, spec: Any, where: str = "") -> None:
    """Raise :class:`ReportError` unless ``data`` has the keys and types of ``spec`` (a type or tuple of types, a
    dict of required keys, a one-item list for "a list of these", or :class:`Nullable`); ``where`` is the path
    of ``data`` in its file, for the message."""
    if isinstance(spec, Nullable):
        if data is not None:
            check(data, spec.spec, where)
        return
    if isinstance(spec, dict):
        if not isinstance(data, dict):
            raise ReportError(f"{where or 'the top level'} should be an object, got {_kind(data)}")
        for key, sub in spec.items():
            if key not in data:
                raise ReportError(f"{where or 'the top level'} lacks {key!r}")
            check(data[key], sub, f"{where}.{key}" if where else key)
        return
    if isinstance(spec, list):
        if not isinstance(data, list):
            raise ReportError(f"{where} should be a list, got {_kind(data)}")
        for i, item in enumerate(data):
            check(item, spec[0], f"{where}[{i}]")
        return
    types = spec if isinstance(spec, tuple) else (spec,)
    if (isinstance(data, bool) and bool not in types) or not isinstance(data, types):
        raise ReportError(f"{where} should be {_names(types)}, got {_kind(data)}")


def checked(data: Any, spec: Any, file: Path, what: str) -> None:
    """:func:`check`, with the file and what it should be in the message."""
    try:
        check(data, spec)
    except ReportError as e:
        raise ReportError(f"{file} is damaged or incomplete as {what}: {e}") from None


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(v), "a number" if isinstance(v, (int, float)) else type(v).__name__
    )


def _names(types: tuple[type, ...]) -> str:
    words = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "a boolean",
        dict: "an object",
        list: "a list",
        type(None): "null",
    }
    return " or ".join(dict.fromkeys(words.get(t, t.__name__) for t in types))


# -- loading ----------------------------------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    """Parse a JSON file; a missing, empty, unreadable or malformed file is one :class:`ReportError` line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is damaged: not UTF-8 text") from None
    except OSError as e:
        raise ReportError(f"{path}: cannot read it ({e.strerror or e})") from None
    if not text.strip():
        raise ReportError(f"{path} is empty (was the command interrupted while writing it?)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(f"{path} is damaged: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None


def detect(data: Mapping[str, Any]) -> str:
    """The format of a results document: its ``"format"`` key, or older landscape and doctor files by their keys."""
    fmt = data.get("format")
    if isinstance(fmt, str):
        return fmt
    if {"settings", "landscapes", "overall", "records"} <= set(data):
        return LANDSCAPES
    if {"findings", "skipped"} <= set(data):
        return DOCTOR
    return ""


def load(path: str | Path) -> ResultDir:
    """The result directory ``path`` as a checked :class:`ResultDir`.

    Raises:
        ReportError: no such directory; no results.json and no doctor files; results.json missing, empty,
            damaged, of an unknown format, or lacking what the page shows.
    """
    root = Path(path)
    if root.is_file():
        raise ReportError(
            f"{root} is a file; ravine report takes the directory that holds results.json ({root.parent})"
        )
    if not root.is_dir():
        raise ReportError(f"{root}: no such directory")
    results = root / "results.json"
    if results.exists():
        data = read_json(results)
        if not isinstance(data, dict):
            raise ReportError(f"{results} is damaged: it holds {_kind(data)}, not a JSON object")
        fmt = detect(data)
        if fmt == DOCTOR:
            checked(data, DOCTOR_REPORT, results, "a doctor report")
            return ResultDir(root, DOCTOR, {}, (_doctor_run(root, results.name, data),))
        return ResultDir(root, _checked(results, data, fmt), data)
    runs = doctor_runs(root)
    if runs:
        return ResultDir(root, DOCTOR, {}, runs)
    below = sorted(p.parent.name for p in root.glob("*/results.json"))
    hint = f"; its subfolders {', '.join(below[:5])} have one: point at one of them" if below else ""
    raise ReportError(f"{results}: no such file, and no doctor log or report in {root}{hint}")


def _checked(results: Path, data: dict[str, Any], fmt: str) -> str:
    if fmt in SCHEMAS:
        checked(data, SCHEMAS[fmt], results, fmt)
    elif not (fmt.startswith("ravine.") and ("figures" in data or "tables" in data)):
        what = f"format {fmt!r}" if fmt else 'no "format" key'
        raise ReportError(f"{results} has {what}, which ravine report does not read (known: {', '.join(KNOWN)})")
    for key, spec in GENERIC.items():
        if key in data:
            checked(data[key], spec, results, f"the {key!r} list of RESULTS.md")
    return fmt


def doctor_runs(root: Path) -> tuple[DoctorRun, ...]:
    """The doctor's reports (``*.json`` with findings and skipped) and logs (``*.jsonl``, ``*.csv``) in ``root``,
    each report paired with the log its ``meta.source`` names."""
    reports: dict[str, tuple[str, dict[str, Any]]] = {}
    for p in sorted(root.glob("*.json")):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and detect(data) == DOCTOR:
            checked(data, DOCTOR_REPORT, p, "a doctor report")
            source = str((data.get("meta") or {}).get("source", ""))
            reports[Path(source).name if source else p.name] = (p.name, data)
    logs = sorted(p.name for p in root.iterdir() if p.suffix.lower() in (".jsonl", ".csv") and p.is_file())
    runs = []
    for name in logs:
        file, report = reports.pop(name, (None, None))
        runs.append(_doctor_run(root, file, report, log=name))
    for key, (file, report) in reports.items():
        log = key if (root / key).is_file() else None
        runs.append(_doctor_run(root, file, report, log=log))
    return tuple(runs)


def _doctor_run(root: Path, file: str | None, report: dict[str, Any] | None, log: str | None = None) -> DoctorRun:
    if log is None and report is not None:
        source = Path(str((report.get("meta") or {}).get("source", "")))
        if source.name and (root / source.name).is_file():
            log = source.name
    series = read_series(root / log) if log else {}
    return DoctorRun(log or file or "run", report, file, log, series)


def read_series(path: Path) -> dict[str, tuple[list[int], list[float]]]:
    """The series of :data:`DOCTOR_SERIES` that the log at ``path`` holds (read by the doctor's own readers)."""
    from ravine.diagnose.errors import DiagnoseError
    from ravine.diagnose.logs import read_log

    try:
        trace = read_log(path)
    except (OSError, ValueError, DiagnoseError) as e:
        raise ReportError(f"{path}: {e}") from None
    out = {}
    for name in DOCTOR_SERIES:
        key = name if trace.has(name) or name != "loss" else "train_loss"
        if trace.has(key):
            steps, values = trace.get(key)
            out[name] = ([int(s) for s in steps], [float(v) for v in values])
    return out
