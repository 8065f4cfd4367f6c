"""CSV logs with a header: ``step,loss,val_loss,lr,grad_norm,...``; an empty cell means "not measured here".

Understood columns are listed in :mod:`ravine.diagnose.logs.columns` (``loss`` or ``train_loss``, ``val_loss``,
``lr``, ``grad_norm``, accuracies, the doctor's own series, and common aliases such as TensorBoard exports'
``Step``/``Value``). Others are ignored. ``nan``/``inf`` cells are kept: a diverged run logs them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from ravine.diagnose import trace as T
from ravine.diagnose.errors import LogFormatError
from ravine.diagnose.logs import columns


def read_csv(path: Path) -> T.Trace:
    """A trace from a CSV file with a header row (comma, semicolon or tab separated)."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        sample = f.read(8192)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(f, dialect)
        try:
            header = next(reader)
        except StopIteration:
            raise LogFormatError(f"{path}: the file is empty") from None
        header = [h.strip() for h in header]
        keys = [columns.normalise(h) for h in header]
        step_col = next((keys.index(k) for k in columns.STEP_NAMES if k in keys), None)
        wanted = {i: columns.canonical(h) for i, h in enumerate(header) if i != step_col}
        # a TensorBoard CSV export is "Wall time,Step,Value" for one tag: its values are the loss
        if set(keys) >= {"step", "value"} and not any(wanted.values()):
            wanted[keys.index("value")] = T.LOSS
        wanted = {i: n for i, n in wanted.items() if n is not None}
        trace = T.Trace(meta={"source": str(path), "format": "csv", "columns": header})
        rows = 0
        for lineno, row in enumerate(reader, 2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) > len(header):
                raise LogFormatError(f"{path}: line {lineno} has {len(row)} cells, the header has {len(header)}")
            step = rows if step_col is None else _number(row, step_col, header, path, lineno)
            if step is None or not math.isfinite(step):
                raise LogFormatError(f"{path}: line {lineno}: the {header[step_col or 0]} cell must be a finite number")
            for i, name in wanted.items():
                value = _number(row, i, header, path, lineno)
                if value is not None:
                    trace.add(name, int(step), value)
            rows += 1
    if rows == 0:
        raise LogFormatError(f"{path}: a header but no rows")
    return columns.finish(trace)


def _number(row: list[str], i: int, header: list[str], path: Path, lineno: int) -> float | None:
    if i >= len(row):
        return None
    cell = row[i].strip()
    if not cell:
        return None
    try:
        return T.decode_float(cell)
    except ValueError:
        raise LogFormatError(f"{path}: line {lineno}, column {header[i]!r}: {cell!r} is not a number") from None
