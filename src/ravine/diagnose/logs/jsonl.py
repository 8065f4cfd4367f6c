"""JSON Lines logs: the doctor's own (``Doctor(..., log=path)``) and any ``{"step": .., "loss": ..}`` per line.

The doctor's log starts with a header line ``{"format": "ravine.doctor", "version": 1, "meta": {...}}``; each
further line holds one step's new values, ``{"step": 120, "loss": 0.41, "grad_norm": 1.3, ...}``, with the
non-finite numbers written as the strings ``"nan"``, ``"inf"``, ``"-inf"`` (strict JSON has none).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any, TextIO

from ravine.diagnose import trace as T
from ravine.diagnose.errors import LogFormatError
from ravine.diagnose.logs import columns

FORMAT = "ravine.doctor"
VERSION = 1


class JsonlWriter:
    """Appends a trace's new values to a JSONL file, one line per step (the file is rewritten on open)."""

    def __init__(self, path: str | Path, meta: dict[str, Any]) -> None:
        self.path = Path(path)
        self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        self._written: dict[str, int] = {}
        self._meta_written = False
        self._meta = meta

    def write(self, trace: T.Trace) -> None:
        """Write every value added to ``trace`` since the last call."""
        if self._file is None:
            return
        if not self._meta_written:
            self._file.write(json.dumps({"format": FORMAT, "version": VERSION, "meta": trace.meta}) + "\n")
            self._meta_written = True
        rows: dict[int, dict[str, Any]] = defaultdict(dict)
        for name, col in trace.columns.items():
            start = self._written.get(name, 0)
            for s, v in zip(col.steps[start:], col.values[start:], strict=True):
                rows[s][name] = T.encode_float(v)
            self._written[name] = len(col.steps)
        for s in sorted(rows):
            self._file.write(json.dumps({"step": s, **rows[s]}) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_jsonl(path: Path) -> T.Trace:
    """A trace from a JSONL log (the doctor's own, or generic per-step records)."""
    trace = T.Trace(meta={"source": str(path), "format": "jsonl"})
    rows = 0
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LogFormatError(f"{path}: line {lineno} is not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise LogFormatError(f"{path}: line {lineno} is not a JSON object")
            if record.get("format") == FORMAT:
                trace.meta.update(record.get("meta", {}))
                trace.meta["source"], trace.meta["format"] = str(path), "jsonl"
                continue
            step = _step_of(record, path, lineno, rows)
            for key, value in record.items():
                if key in columns.STEP_NAMES or key in ("wall_time", "time", "timestamp"):
                    continue
                name = columns.canonical(key)
                if name is None or value is None or value == "":
                    continue
                try:
                    number = T.decode_float(value)
                except (TypeError, ValueError):
                    raise LogFormatError(f"{path}: line {lineno}: {key}={value!r} is not a number") from None
                trace.add(name, step, number)
            rows += 1
    if rows == 0:
        raise LogFormatError(f"{path}: no records")
    return columns.finish(trace)


def _step_of(record: dict[str, Any], path: Path, lineno: int, index: int) -> int:
    for key in columns.STEP_NAMES:
        if key in record:
            try:
                value = float(record[key])
            except (TypeError, ValueError):
                raise LogFormatError(f"{path}: line {lineno}: {key}={record[key]!r} is not a number") from None
            if not math.isfinite(value):
                raise LogFormatError(f"{path}: line {lineno}: {key} is {value}, steps must be finite")
            return int(value)
    return index
