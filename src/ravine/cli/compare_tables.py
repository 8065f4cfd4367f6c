"""The tables ``ravine compare`` prints for landscapes: one ranked table per landscape, then an overall one."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table

from ravine.lab import suite, tuning
from ravine.lab.suite import LandscapeResult, Record
from ravine.report import style


def _name(optimizer: str, index: int) -> str:
    return f"[{style.color(optimizer, index)}]■[/] {optimizer}"


def _reached(score: tuning.Score, n: int) -> str:
    color = "green" if score.reached == n else "yellow" if score.reached else "red"
    return f"[{color}]{score.reached}/{n}[/]"


def _steps(recs: Sequence[Record]) -> str:
    return ", ".join(str(r.outcome.steps_to_target) if r.outcome.reached else "—" for r in recs)


def _final(recs: Sequence[Record]) -> str:
    """The worst final gap (or final value on a saddle) over the starts; "diverged" if any diverged."""
    if any(r.outcome.diverged for r in recs):
        return "[red]diverged[/]"
    gaps = [r.outcome.gap for r in recs]
    if all(g is not None for g in gaps):
        return _sci(max(gaps))
    return f"{max(r.outcome.final_value for r in recs):.3g}"


def _sci(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def _behaviour(recs: Sequence[Record]) -> str:
    return ", ".join(dict.fromkeys(r.outcome.effect for r in recs))


def _default(result: LandscapeResult, optimizer: str) -> str:
    recs = result.select(optimizer, "default")
    score = result.score(optimizer, "default")
    text = f"{recs[0].lr:g} → {_reached(score, len(recs))}"
    if score.reached:
        return text + f" in {_steps(recs)}"
    return text + f", {_final(recs)}"


# Below this console width the behaviour column is left out (it stays in results.json), so that the numbers keep
# whole columns in an 80-column terminal instead of being wrapped or cut.
WIDE = 110


def landscape_table(result: LandscapeResult, width: int | None = None) -> Table:
    """Optimisers ranked on one landscape by the tuning criterion, tuned beside default learning rate.

    ``width`` is the console's; a narrow one gets the table without its behaviour column.
    """
    wide = width is None or width >= WIDE
    land, n = result.landscape, len(result.starts)
    tuned = bool(result.tuning)
    goal = f"f − f* ≤ {land.tol:g}" if not land.unbounded else f"escape to f ≤ {land.target:g} inside the box"
    lr_note = f"lr tuned over {len(result.tuning[0].grid)} values" if tuned else "given learning rates"
    table = Table(
        title=f"[bold]{land.title}[/]  [dim]{land.illustrates}[/]",
        caption=f"{result.steps} steps · target {goal} · {n} start{'s' * (n > 1)} · {lr_note}"
        + (f" · gradient noise σ = {result.noise:g} (seed {result.seed})" if result.noise else "")
        + ("" if wide else " · behaviour: widen the terminal, or see results.json"),
        title_justify="left",
        caption_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("#", justify="right", no_wrap=True, min_width=1)
    table.add_column("optimiser", no_wrap=True)
    table.add_column("lr", justify="right", no_wrap=True)
    table.add_column("reached", justify="right", no_wrap=True)
    table.add_column("escaped at" if land.unbounded else "at step", justify="right", no_wrap=True)
    table.add_column("final f" if land.unbounded else "f − f*", justify="right", no_wrap=True)
    if wide:
        table.add_column("behaviour")
    if tuned:
        table.add_column("default lr → reached", no_wrap=True)
    for standing in result.standings:
        k = result.optimizers.index(standing.optimizer)
        if tuned:
            recs = result.select(standing.optimizer, "tuned")
            cells = [str(standing.rank), _name(standing.optimizer, k), f"{standing.lr:g}",
                     _reached(standing.score, n), _steps(recs), _final(recs)]  # fmt: skip
            table.add_row(*cells, *([_behaviour(recs)] if wide else []), _default(result, standing.optimizer))
            continue
        lrs = sorted({r.lr for r in result.select(standing.optimizer, "given")})
        for i, lr in enumerate(lrs):
            recs = [r for r in result.select(standing.optimizer, "given") if r.lr == lr]
            best = lr == standing.lr
            cells = [
                str(standing.rank) if i == 0 else "",
                _name(standing.optimizer, k) if i == 0 else "",
                f"[bold]{lr:g}[/]" if best and len(lrs) > 1 else f"{lr:g}",
                _reached(result.score(standing.optimizer, "given", lr), n),
                _steps(recs),
                _final(recs),
            ]
            table.add_row(*cells, *([_behaviour(recs)] if wide else []))
    return table


def overall_table(results: Sequence[LandscapeResult]) -> Table:
    """Mean rank over the landscapes, wins, and on how many landscapes every start reached the target."""
    table = Table(
        title="[bold]Overall[/] (mean rank over the landscapes above)",
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name, justify in (
        ("#", "right"),
        ("optimiser", "left"),
        ("mean rank", "right"),
        ("wins", "right"),
        ("all starts reached", "right"),
    ):
        table.add_column(name, justify=justify)
    names = list(results[0].optimizers)
    for i, (name, mean, wins, full) in enumerate(suite.overall(results)):
        table.add_row(str(i + 1), _name(name, names.index(name)), f"{mean:.2f}", str(wins), f"{full}/{len(results)}")
    return table
