"""The tables ``ravine compare`` prints for landscapes: one ranked table per landscape, then an overall one."""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

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


def landscape_table(result: LandscapeResult, width: int | None = None) -> Table:
    """Optimisers ranked on one landscape by the tuning criterion, tuned beside default learning rate.

    ``width`` is the console's. On a narrow terminal the behaviour and default-lr cells wrap at their spaces
    (never inside a word); only if the table does not fit even then is the behaviour column left out (it stays
    in results.json, and the caption says so). The numbers are never cut.
    """
    for behaviour in (True, False):
        header, rows = _content(result, behaviour=behaviour)
        wrapping = [i for i, name in enumerate(header) if name in _WRAPPING]
        widths = {i: max(_cell_width(r[i]) for r in [header, *rows]) for i in wrapping}
        least = {i: max(_longest_word(r[i]) for r in [header, *rows]) for i in wrapping}
        table = _table(result, header, rows, widths, behaviour)
        while width is not None and _width(table) > width and any(widths[i] > least[i] for i in wrapping):
            i = max(wrapping, key=lambda j: widths[j] - least[j])
            widths[i] -= 1
            table = _table(result, header, rows, widths, behaviour)
        if width is None or _width(table) <= width:
            return table
    return table


_WRAPPING = ("behaviour", "default lr → reached")


def _cell_width(markup: str) -> int:
    return Text.from_markup(markup).cell_len


def _longest_word(markup: str) -> int:
    return max((Text(w).cell_len for w in Text.from_markup(markup).plain.split()), default=1)


def _width(table: Table) -> int:
    console = Console(file=io.StringIO(), width=10_000)
    return Measurement.get(console, console.options, table).maximum


def _content(result: LandscapeResult, *, behaviour: bool) -> tuple[list[str], list[list[str]]]:
    """The header and the rows (rich markup) of a landscape's table."""
    land, n = result.landscape, len(result.starts)
    tuned = bool(result.tuning)
    header = ["#", "optimiser", "lr", "reached", "escaped at" if land.unbounded else "at step",
              "final f" if land.unbounded else "f − f*"]  # fmt: skip
    header += ["behaviour"] * behaviour + ["default lr → reached"] * tuned
    rows: list[list[str]] = []
    for standing in result.standings:
        k = result.optimizers.index(standing.optimizer)
        if tuned:
            recs = result.select(standing.optimizer, "tuned")
            cells = [str(standing.rank), _name(standing.optimizer, k), f"{standing.lr:g}",
                     _reached(standing.score, n), _steps(recs), _final(recs)]  # fmt: skip
            rows.append([*cells, *([_behaviour(recs)] if behaviour else []), _default(result, standing.optimizer)])
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
            rows.append([*cells, *([_behaviour(recs)] if behaviour else [])])
    return header, rows


def _table(result: LandscapeResult, header: list[str], rows: list[list[str]], widths: dict[int, int],
           behaviour: bool) -> Table:  # fmt: skip
    land, n = result.landscape, len(result.starts)
    goal = f"f − f* ≤ {land.tol:g}" if not land.unbounded else f"escape to f ≤ {land.target:g} inside the box"
    lr_note = f"lr tuned over {len(result.tuning[0].grid)} values" if result.tuning else "given learning rates"
    table = Table(
        title=f"[bold]{land.title}[/]  [dim]{land.illustrates}[/]",
        caption=f"{result.steps} steps · target {goal} · {n} start{'s' * (n > 1)} · {lr_note}"
        + (f" · gradient noise σ = {result.noise:g} (seed {result.seed})" if result.noise else "")
        + ("" if behaviour else " · behaviour: widen the terminal, or see results.json"),
        title_justify="left",
        caption_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for i, name in enumerate(header):
        if i in widths:
            table.add_column(name, width=widths[i])
        else:
            table.add_column(name, justify="left" if name == "optimiser" else "right", no_wrap=True,
                             min_width=1 if name == "#" else None)  # fmt: skip
    for row in rows:
        table.add_row(*row)
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
