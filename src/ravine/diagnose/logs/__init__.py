"""Training logs the doctor reads: its own JSONL log, CSV files with a header, TensorBoard event files.

``read_log(path)`` picks the reader from the file (a directory is searched for event files) and returns a
:class:`~ravine.diagnose.trace.Trace`; ``diagnose_log(path)`` also runs the detectors.
"""

from __future__ import annotations

from pathlib import Path

from ravine.diagnose import trace as T
from ravine.diagnose.errors import LogFormatError
from ravine.diagnose.findings import Report
from ravine.diagnose.logs.csv_log import read_csv
from ravine.diagnose.logs.jsonl import JsonlWriter, read_jsonl
from ravine.diagnose.logs.tensorboard import is_event_file, read_tensorboard, write_scalars
from ravine.diagnose.thresholds import Thresholds

__all__ = [
    "JsonlWriter",
    "diagnose_log",
    "log_gaps",
    "read_csv",
    "read_jsonl",
    "read_log",
    "read_tensorboard",
    "write_scalars",
]

FORMATS = ("jsonl", "csv", "tensorboard")


def detect_format(path: Path) -> str:
    """``"jsonl"``, ``"csv"`` or ``"tensorboard"`` from the name, else from the first bytes."""
    if path.is_dir() or is_event_file(path):
        return "tensorboard"
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    with path.open("rb") as f:
        head = f.read(512)
    text = head.lstrip()
    if text.startswith(b"{"):
        return "jsonl"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) and (b"," in head or b"\t" in head):
        return "csv"
    raise LogFormatError(
        f"{path}: unknown log format; the doctor reads JSONL (.jsonl), CSV with a header (.csv) and TensorBoard "
        "event files (events.out.tfevents.*, or a directory of them)"
    )


def read_log(path: str | Path, format: str | None = None) -> T.Trace:
    """Read a training log into a trace.

    Args:
        path: a ``.jsonl`` / ``.csv`` file, a TensorBoard event file, or a directory holding event files.
        format: force ``"jsonl"``, ``"csv"`` or ``"tensorboard"`` (default: detect).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        LogFormatError: the format is unknown, or the file is malformed or holds no training loss.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such log: {p}")
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    fmt = format or detect_format(p)
    try:
        trace = {"jsonl": read_jsonl, "csv": read_csv, "tensorboard": read_tensorboard}[fmt](p)
    except UnicodeDecodeError:
        raise LogFormatError(f"{p}: not a text file, so not {fmt.upper()}") from None
    if not trace.has(T.LOSS):
        found = trace.meta.get("columns") or trace.meta.get("tags") or sorted(trace.names())
        raise LogFormatError(
            f"{p}: no training loss; expected a column or tag named loss or train_loss (found: "
            f"{', '.join(map(str, found)) or 'nothing'})"
        )
    return trace


def diagnose_log(path: str | Path, format: str | None = None, thresholds: Thresholds | None = None) -> Report:
    """Diagnose a finished run from its log: the report says what the data shows and what it could not check."""
    from ravine.diagnose.detect import diagnose

    trace = read_log(path, format)
    return diagnose(trace, thresholds, final=True, skipped=log_gaps(trace)).report


def log_gaps(trace: T.Trace) -> list[tuple[str, str]]:
    """Checks a log's trace cannot support at all, as ``(check, reason)`` for the report's ``skipped``."""
    out = []
    if not trace.names(T.ZERO_FRACTION) and not trace.names(T.SATURATED_FRACTION):
        out += [
            ("dead_units", "the log has no activation statistics"),
            ("saturation", "the log has no activation statistics"),
        ]
    return out
