"""The files a lab command wrote into its output directory, so that a rerun removes exactly its own stale ones.

Every ``results.json`` lists what the command wrote beside it under ``"outputs"`` (paths relative to the
directory). A rerun into the same directory writes its own files, then removes the previous run's files that it
did not write again -- only those: a user's own files in the directory are never touched. A ``results.json``
from before this list existed is read for the landscapes it names, whose figures have predictable names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

RESULTS = "results.json"


def previous(out: Path) -> set[str]:
    """The files the run that left ``out/results.json`` wrote (empty if there is none or it is unreadable)."""
    try:
        doc = json.loads((out / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(doc, dict):
        return set()
    listed = doc.get("outputs")
    if isinstance(listed, list):
        return {p for p in listed if isinstance(p, str) and _safe(p)}
    return _legacy_landscape_outputs(out, doc)


def remove_stale(out: Path, before: Iterable[str], now: Iterable[str]) -> list[str]:
    """Delete the files of ``before`` that are not in ``now``; returns what was removed."""
    keep = set(now) | {RESULTS}
    removed = []
    for name in sorted(set(before) - keep):
        path = out / name
        if _safe(name) and path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(name)
    return removed


def relative(out: Path, paths: Iterable[Path]) -> list[str]:
    """``paths`` as names relative to ``out``, in order."""
    return [Path(p).relative_to(out).as_posix() for p in paths]


def _safe(name: str) -> bool:
    """A plain relative path inside the directory (no absolute paths, no ``..``)."""
    p = Path(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts


def _legacy_landscape_outputs(out: Path, doc: dict) -> set[str]:
    from ravine.report.landscape_report import stem

    names = doc.get("settings", {}).get("landscapes") if isinstance(doc.get("settings"), dict) else None
    if not isinstance(names, list):
        return set()
    found = {"trajectories.npz", "overview.png"}
    for name in names:
        if not isinstance(name, str):
            continue
        s = stem(name)
        found |= {f"{s}-paths.png", f"{s}-paths.gif", f"{s}-loss.png"}
        found |= {p.name for p in out.glob(f"{s}-lr-effects-*.png")}
    return found
