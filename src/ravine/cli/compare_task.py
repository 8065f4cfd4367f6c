"""``ravine compare TASK ...``: optimisers compared on a task (issue 7). The ``compare`` command calls :func:`run`.

This module only parses the options, calls :func:`ravine.lab.tasks.compare`, and renders: progress bars while it
runs, then ``results.json``, two figures and a ranked table. Bad input is one line on the console and a
non-zero exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ravine.cli import report
from ravine.lab import backends, outputs
from ravine.lab.data import DataError
from ravine.lab.tasks import TASKS, Event, Protocol, RunFailed, RunStore, Task, TaskData, compare, protocol
from ravine.report import task_plots

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


DEFAULT_OPTIMIZERS = protocol.DEFAULT_OPTIMIZERS


def run(
    task: str,
    *,
    optimizers: Sequence[str] | None = None,
    epochs: int | None = None,
    seeds: int | None = 3,
    batch_size: int | str | None = None,
    lr_grid: Sequence[float] | None = None,
    tuning: str = "grid",
    schedule: str | None = None,
    workers: int | None = None,
    backend: backends.Kind = backends.Kind.POOL,
    address: str | None = None,
    data_dir: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    console: Console | None = None,
    subset: int | None = None,
) -> int:
    """Compare ``optimizers`` on ``task`` and write the results to ``out``; returns the exit code.

    The values are typed (the command line parsed them); what they may be is checked here, once, by
    :class:`ravine.lab.tasks.Protocol`.

    Args:
        task: a name from :data:`ravine.lab.tasks.TASKS`.
        optimizers: registry names (default: SGD with Nesterov momentum, Adagrad, RMSProp and Adam, the
            optimisers of the Adam paper's comparisons).
        epochs: passes over the training data (>= 1; default: the task's).
        seeds: seeds for the chosen and the default learning rate (>= 1; default 3).
        batch_size: ``"full"``, ``1`` or any positive size (default: the task's, 128).
        lr_grid: learning rates (> 0; default: the task's grid).
        tuning: ``"grid"`` (tune over ``lr_grid``) or ``"find"`` (an LR range test per optimiser picks the rate).
        schedule: a learning-rate schedule spec (``cosine``) applied to every optimiser, or None.
        workers: runs at once (>= 1): worker processes of the pool (default 1, this process), or Ray tasks
            (default: as many as the Ray cluster has CPUs for).
        backend: where the runs execute: the process pool or Ray (:mod:`ravine.lab.backends`).
        address: the Ray cluster to connect to (Ray only; default: a local Ray for this comparison).
        data_dir: directory holding the data sets (default: ``$RAVINE_DATA``, else the cache).
        out: output directory (default ``./ravine-<task>``); rerunning with the same one resumes.
        console: where to render (default: a new rich console).
        subset: at most this many examples per split, for quick runs.

    Returns:
        0 on success, 1 if data or a run failed or Ray is missing, 2 for bad input, 130 when interrupted.
    """
    console = console or Console()
    optimizers = DEFAULT_OPTIMIZERS if optimizers is None else optimizers
    seeds = 3 if seeds is None else seeds
    try:
        the_task = TASKS.get(task)
        if the_task is None:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
        if data_dir is not None and not Path(data_dir).expanduser().is_dir():
            raise ValueError(f"data_dir {data_dir} does not exist or is not a directory")
        protocol = Protocol(
            optimizers=optimizers,
            lr_grid=None if lr_grid is None else tuple(lr_grid),
            tuning=tuning,
            seeds=seeds,
            epochs=epochs,
            batch_size=batch_size,
            schedule=schedule,
            subset=subset,
        )
        where = backends.make(backend, workers=workers, address=address)
    except ValueError as e:
        return _error(console, e, EXIT_USAGE)
    except backends.MissingExtra as e:
        return _error(console, e, EXIT_FAILED)
    try:
        data = _load(the_task, data_dir, console)
    except DataError as e:
        return _error(console, e, EXIT_FAILED)
    out_dir = Path(out) if out is not None else Path(f"ravine-{the_task.name}")
    store = RunStore(out_dir / "runs.jsonl")
    if len(store):
        console.print(f"resuming: {len(store)} finished runs in {store.path}", highlight=False, soft_wrap=True)
    try:
        with _Display(console) as display:
            results = compare(the_task, protocol, store, data=data, data_dir=data_dir, backend=where, on_event=display)
    except DataError as e:
        return _error(console, e, EXIT_FAILED)
    except RunFailed as e:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "error.log").write_text(e.details or str(e), encoding="utf-8")
        return _error(console, f"{e} (traceback in {out_dir / 'error.log'})", EXIT_FAILED)
    except KeyboardInterrupt:
        console.print(
            f"interrupted: {len(store)} finished runs are saved in {store.path}; run the same command to resume",
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_INTERRUPTED
    write(results, out_dir, page=True)
    console.print(table(results))
    console.print(f"results, runs and figures in {out_dir}/ (compared in {results['wall_s']:.1f} s)", highlight=False)
    report.for_compare(out_dir, console)  # the HTML page of the results just written (issue 15)
    return EXIT_OK


def _error(console: Console, e: Exception | str, code: int) -> int:
    # escaped: a message may hold brackets that are not markup ("pip install 'ravine[ray]'")
    console.print(f"[red]error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
    return code


def _load(task: Task, data_dir: str | os.PathLike | None, console: Console) -> TaskData:
    if not console.is_terminal:
        return task.load(data_dir)
    with console.status(f"loading the data of {task.name} (a bag of words is built once, then cached)"):
        return task.load(data_dir)


def write(results: dict[str, Any], out_dir: Path, *, page: bool = False) -> None:
    """``learning_curves.png``, ``lr_sensitivity.png`` and ``results.json`` (written atomically, last, listing
    the figures, and report.html when ``page``: the caller writes it next, from this results.json); the figures a
    previous comparison left in ``out_dir`` and this one did not rewrite are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    before = outputs.previous(out_dir)
    figures = {"learning_curves.png": task_plots.learning_curves, "lr_sensitivity.png": task_plots.lr_sensitivity}
    if "lr_finder" in results:  # tuning="find": the range tests instead of a grid
        from ravine.lr_finder import plot

        figures = {"learning_curves.png": task_plots.learning_curves, "lr_finder.png": plot.task_figure}
    for name, draw in figures.items():
        task_plots.save(draw(results), out_dir / name)
    results = {**results, "outputs": [*figures, *([report.REPORT] if page else [])]}
    if "lr_finder" in results:  # the range tests, for the HTML report's generic figures (RESULTS.md)
        rates = ", ".join(f"{opt} {r['lr']:.3g}" for opt, r in results["lr_finder"].items() if r["lr"] is not None)
        results["figures"] = [
            {"file": "lr_finder.png", "title": "LR range tests (tuning seed)", "caption": f"suggested: {rates}"}
        ]
    tmp = out_dir / f".results-{os.getpid()}.json"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, allow_nan=False)
    os.replace(tmp, out_dir / "results.json")
    outputs.remove_stale(out_dir, before, results["outputs"])


def table(results: dict[str, Any]) -> Table:
    """The ranked terminal table: per optimiser its tuned rate and, below, its default rate."""
    acc = results["task"]["target"]["metric"] == "val_acc"
    metric, name = ("test_acc", "test acc %") if acc else ("test_loss", "test loss")
    target = results["task"]["target"]
    t = Table(
        title=f"{results['task']['name']}: {results['task']['summary']}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        caption=f"mean±sd over {results['protocol']['seeds']} seeds · to target: mean steps until "
        f"{target['metric']} {'>=' if acc else '<='} {target['value']:g} (runs that got there), and seconds · "
        + (
            f"lr: the LR range test's suggestion (rule {results['protocol']['finder']['rule']})"
            if "lr_finder" in results
            else "div.: diverged grid runs · *: best rate at the edge of the grid"
        )
        + (" · doctor n/a: it did not run on every seed" if _doctor_missing(results) else ""),
        caption_justify="left",
    )
    for col in ("#", "optimizer", "lr", name, "to target", "s", "div.", "doctor"):
        t.add_column(col, justify="left" if col in ("optimizer", "doctor") else "right", no_wrap=col != "doctor")
    scale = 100.0 if acc else 1.0
    for row in results["summary"]:
        grid = f"{sum(g['diverged'] for g in row['grid'])}/{len(row['grid'])}" if row["grid"] else "-"
        lines = [("tuned", row["tuned"], row["chosen_lr"])]
        if results["protocol"]["defaults"]:
            lines.append(("default", row["default"], row["default_lr"]))
        for i, (what, agg, lr) in enumerate(lines):
            reach = agg["target"] if agg else None
            t.add_row(
                str(row["rank"]) if i == 0 else "",
                row["optimizer"] if i == 0 else f"  {what}",
                "-" if lr is None else f"{lr:g}" + ("*" if what == "tuned" and row["chosen_at_edge"] else ""),
                _pm(agg["final"][metric], scale) if agg else "diverged" if what == "tuned" else "-",
                f"{_mean(reach['steps'], '{:.0f}')} ({reach['reached']}/{reach['of']})" if reach else "-",
                _mean(reach["seconds"], "{:.1f}") if reach else "-",
                grid if i == 0 else "",
                _findings(agg["findings"] if agg else None),
                end_section=i == len(lines) - 1,
            )
    return t


def _pm(s: dict[str, Any], scale: float = 1.0) -> str:
    if s["mean"] is None:
        return "-"
    mean = s["mean"] * scale
    digits = 2 if scale != 1.0 or abs(mean) >= 10 else 4
    return f"{mean:.{digits}f}" + ("" if s["sd"] is None else f"±{s['sd'] * scale:.{digits}f}")


def _mean(s: dict[str, Any], fmt: str) -> str:
    return "-" if s["mean"] is None else fmt.format(s["mean"])


def _doctor_missing(results: dict[str, Any]) -> bool:
    """Whether some line of the table shows "n/a" for the doctor (its legend is shown only then)."""
    aggs = [row[k] for row in results["summary"] for k in ("tuned", "default") if row.get(k)]
    return any(agg.get("findings", None) is None for agg in aggs)


def _findings(findings: list[dict[str, Any]] | None) -> str:
    if findings is None:
        return "n/a"
    if not findings:
        return "none"
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[str(f.get("kind"))] = kinds.get(str(f.get("kind")), 0) + 1
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in kinds.items())


class _Display:
    """On a terminal, progress bars: runs done / planned, and one bar per run in progress. Elsewhere (logs, CI),
    one line per finished run."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.live,
        )
        self.overall = self.progress.add_task("runs", total=None)
        self.active: dict[str, Any] = {}

    def __enter__(self) -> _Display:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, e: Event) -> None:
        if not self.live:
            if e.kind == "finish" and e.spec is not None and e.record is not None:
                r = e.record
                status = "diverged" if r["diverged"] else f"val {_final(r)}"
                self.console.print(
                    f"[{e.done}/{e.planned}] {e.spec.label()}: {status} ({r['wall_s']:.1f} s)", highlight=False
                )
            return
        self.progress.update(self.overall, completed=e.done, total=e.planned)
        if e.spec is None:
            return
        key = e.spec.key()
        if e.kind in ("start", "progress"):
            if key not in self.active:
                self.active[key] = self.progress.add_task(f"  {e.spec.label()}", total=None)
            self.progress.update(self.active[key], completed=e.step, total=e.total or None)
        elif key in self.active:
            self.progress.remove_task(self.active.pop(key))


def _final(record: dict[str, Any]) -> str:
    acc, loss = record["final"]["val_acc"], record["final"]["val_loss"]
    if acc is not None:
        return f"acc {acc:.4f}"
    return "loss -" if loss is None else f"loss {loss:.4g}"
