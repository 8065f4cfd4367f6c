"""Finished runs, one JSON object per line, appended and flushed to disk the moment each run ends.

An interrupted comparison leaves every finished run in the file (at worst a torn last line, which is skipped),
and the next one with the same output directory reuses them by key instead of running them again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ravine.lab.tasks.spec import FORMAT


class RunStore:
    """The runs of one output directory, keyed by :meth:`RunSpec.key`.

    Args:
        path: the JSON-lines file (created with its directory on the first :meth:`add`).
        record_format: the ``format`` a line's record must carry to be used (the task lab's by default; the
            reproduction and the LR-finder sweeps keep their records in this store under their own).

    Attributes:
        skipped: lines that could not be used (torn by an interruption, or of another record format).
    """

    def __init__(self, path: str | os.PathLike, record_format: str = FORMAT) -> None:
        self.path = Path(path)
        self.record_format = record_format
        self.records: dict[str, dict[str, Any]] = {}
        self.skipped = 0
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        self.skipped += 1
                        continue
                    if isinstance(rec, dict) and rec.get("format") == record_format and "key" in rec:
                        self.records[rec["key"]] = rec
                    else:
                        self.skipped += 1

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def add(self, record: dict[str, Any]) -> None:
        """Append ``record`` and force it to disk before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, allow_nan=False, separators=(",", ":"))
        with open(self.path, "a+", encoding="utf-8") as f:
            # A torn line from an interrupted write must not swallow this record.
            f.seek(0, os.SEEK_END)
            if f.tell() > 0:
                f.seek(f.tell() - 1)
                if f.read(1) != "\n":
                    f.write("\n")
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.records[record["key"]] = record
