"""The page of a landscape comparison (``ravine.landscape-comparison/1``): the overall ranking with the overview
figure, then per landscape the terminal's ranked table, the contour map with every path, the animation, the loss
curves, the learning-rate effects, and the tuning grid; last the settings and environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ravine.report.html import captions
from ravine.report.html.markup import definition_list, details, esc, figure, image, items, lr, sci, slug, table
from ravine.report.html.results import ResultDir
from ravine.report.html.sections import Section

Doc = Mapping[str, Any]


def stem(name: str) -> str:
    """The file-name stem ``ravine compare`` uses for a landscape (see :mod:`ravine.report.landscape_report`)."""
    from ravine.report.landscape_report import stem as figure_stem

    return figure_stem(name)


def sections(result: ResultDir, *, animations: bool = True) -> list[Section]:
    """The sections of one landscape comparison."""
    data = result.data
    out = []
    if len(data["landscapes"]) > 1:
        out.append(Section("overall", "Overall", _overall(result), "landscape"))
    for land in data["landscapes"]:
        recs = [r for r in data["records"] if r["landscape"] == land["name"]]
        ident = "landscape-" + slug(land["name"])
        out.append(Section(ident, land["title"], _landscape(result, land, recs, ident, animations), "landscape"))
    out.append(Section("landscape-settings", "Settings and environment", _settings(data), "landscape"))
    return out


def _exists(result: ResultDir, name: str) -> bool:
    listed = result.data.get("outputs")
    if listed is not None:
        return name in listed
    return (result.path / name).is_file()


def _overall(result: ResultDir) -> str:
    data = result.data
    n = len(data["landscapes"])
    rows = [
        [str(i + 1), r["optimizer"], f"{r['mean_rank']:.2f}", str(r["wins"]), f"{r['all_starts_reached']}/{n}"]
        for i, r in enumerate(data["overall"])
    ]
    tbl = table(
        ["#", "optimiser", "mean rank", "wins", "all starts reached"],
        rows,
        numeric=[True, False, True, True, True],
        caption="Mean rank over the landscapes below; wins: landscapes ranked first; all starts reached: landscapes "
        "where every start reached the target.",
    )
    shows = captions.overall(data["overall"], n)
    body = tbl + f'<p class="shows"><strong>What this shows:</strong> {esc(shows)}</p>'
    if _exists(result, "overview.png"):
        body += figure(
            image(result.file("overview.png"), "every landscape's contour map with each optimiser's tuned path"),
            "Every landscape with each optimiser's path (overview.png)",
            captions.overview(data["landscapes"]),
        )
    crit = data["settings"].get("tuning_criterion")
    if crit:
        body += f'<p class="note">Tuning and ranking criterion: {esc(crit)}.</p>'
    return body


def _goal(land: Doc) -> str:
    if land["unbounded_below"]:
        return f"escape to f ≤ {land['target']:g} inside the box"
    return f"f − f* ≤ {land.get('tol', land['target'] - (land['f_star'] or 0.0)):g}"


def _steps(recs: Sequence[Doc]) -> str:
    return ", ".join(str(r["steps_to_target"]) if r["reached"] else "—" for r in recs)


def _final(recs: Sequence[Doc]) -> str:
    """The worst final gap (or final value on a saddle) over the starts; "diverged" if any diverged."""
    if any(r["diverged"] for r in recs):
        return "diverged"
    gaps = [r["gap"] for r in recs]
    if all(g is not None for g in gaps):
        return sci(max(gaps))
    vals = [r["final_value"] for r in recs if r["final_value"] is not None]
    return f"{max(vals):.3g}" if vals else "-"


def _score(land: Doc, optimizer: str, source: str, recs: Sequence[Doc]) -> str:
    n = len(land["starts"])
    reached = sum(r["reached"] for r in recs)
    text = f"{recs[0]['lr']:g} → {reached}/{n}" if recs else "-"
    if not recs:
        return text
    return text + (f" in {_steps(recs)}" if reached else f", {_final(recs)}")


def ranked_rows(land: Doc, recs: Sequence[Doc]) -> tuple[list[str], list[list[str]]]:
    """The terminal's table of one landscape: columns and rows, best first."""
    n = len(land["starts"])
    tuned = any(r["lr_source"] == "tuned" for r in recs)
    cols = [
        "#",
        "optimiser",
        "lr",
        "reached",
        "escaped at" if land["unbounded_below"] else "at step",
        "final f" if land["unbounded_below"] else "f − f*",
        "behaviour",
    ]
    if tuned:
        cols.append("default lr → reached")
    rows = []
    for s in land["ranking"]:
        opt = s["optimizer"]
        if tuned:
            mine = sorted(
                (r for r in recs if r["optimizer"] == opt and r["lr_source"] == "tuned"), key=lambda r: r["start_index"]
            )
            dflt = sorted(
                (r for r in recs if r["optimizer"] == opt and r["lr_source"] == "default"),
                key=lambda r: r["start_index"],
            )
            rows.append(
                [
                    str(s["rank"]),
                    opt,
                    lr(s["lr"]),
                    f"{s['reached']}/{n}",
                    _steps(mine),
                    _final(mine),
                    ", ".join(dict.fromkeys(r["effect"] for r in mine)),
                    _score(land, opt, "default", dflt),
                ]
            )
            continue
        given = [r for r in recs if r["optimizer"] == opt and r["lr_source"] == "given"]
        for i, rate in enumerate(sorted({r["lr"] for r in given})):
            mine = sorted((r for r in given if r["lr"] == rate), key=lambda r: r["start_index"])
            rows.append(
                [
                    str(s["rank"]) if i == 0 else "",
                    opt if i == 0 else "",
                    lr(rate) + (" (best)" if rate == s["lr"] and len(given) > len(mine) else ""),
                    f"{sum(r['reached'] for r in mine)}/{n}",
                    _steps(mine),
                    _final(mine),
                    ", ".join(dict.fromkeys(r["effect"] for r in mine)),
                ]
            )
    return cols, rows


def _landscape(result: ResultDir, land: Doc, recs: Sequence[Doc], ident: str, animations: bool) -> str:
    n = len(land["starts"])
    tuned = any(r["lr_source"] == "tuned" for r in recs)
    cols, rows = ranked_rows(land, recs)
    grid = len(land["tuning"][0]["grid"]) if land["tuning"] else 0
    settings = result.data["settings"]
    noise = settings.get("noise") or 0
    note = (
        f"{land['steps']} steps · target {_goal(land)} · {n} start{'s' * (n > 1)} · "
        + (f"lr tuned over {grid} values" if tuned else "given learning rates")
        + (f" · gradient noise σ = {noise:g} (seed {settings.get('seed', 0)})" if noise else "")
    )
    numeric = [True, False, True, True, True, True, False, False]
    body = f'<p class="lede">{esc(land["illustrates"])}'
    body += f' <span class="source">({esc(land["source"])})</span></p>' if land.get("source") else "</p>"
    body += table(cols, rows, caption=note, numeric=numeric[: len(cols)], row_keys=None, cls="ranked")
    s = stem(land["name"])
    paths = f"{s}-paths.png"
    if _exists(result, paths):
        body += figure(
            image(result.file(paths), f"{land['title']}: contour map with every optimiser's path"),
            "Every path on the contour map, from the first start"
            + (": tuned beside default learning rate" if tuned else ""),
            captions.landscape_paths(land, recs),
        )
    gif = f"{s}-paths.gif"
    if animations and _exists(result, gif):
        body += figure(
            image(result.file(gif), f"{land['title']}: the paths growing step by step", cls="anim"),
            "The same paths, animated",
            captions.landscape_animation(land, recs),
            cls="narrow",
        )
    loss = f"{s}-loss.png"
    if _exists(result, loss):
        body += figure(
            image(result.file(loss), f"{land['title']}: f − f* and gradient norm per step"),
            ("f per step" if land["unbounded_below"] else "f − f* (log) and ‖∇f‖ per step")
            + ("; solid tuned, dashed default" if tuned else ""),
            captions.landscape_loss(land, recs),
        )
    for opt in result.data["settings"].get("optimizers", []):
        eff = f"{s}-lr-effects-{stem(opt)}.png"
        if not tuned and _exists(result, eff):
            body += figure(
                image(result.file(eff), f"{land['title']}: learning-rate effects of {opt}"),
                f"Learning-rate effects: {opt}",
                captions.lr_effects(land, recs, opt),
            )
    if land["tuning"]:
        body += details("The tuning grid: starts reaching the target at each learning rate", _tuning(land))
    return body


def _tuning(land: Doc) -> str:
    lrs = [g["lr"] for g in land["tuning"][0]["grid"]]
    n = len(land["starts"])
    rows = []
    for t in land["tuning"]:
        cells = {g["lr"]: ("x" if g["diverged"] == n else f"{g['reached']}/{n}") for g in t["grid"]}
        rows.append([t["optimizer"], lr(t["chosen_lr"]), lr(t["default_lr"])] + [cells.get(v, "") for v in lrs])
    return table(
        ["optimiser", "chosen", "default", *[lr(v) for v in lrs]],
        rows,
        numeric=[False, True, True] + [True] * len(lrs),
        caption=f"Cells: starts reaching the target out of {n}; x: every start diverged.",
        cls="dense",
    )


def _settings(data: Doc) -> str:
    s = data["settings"]
    pairs = items(s, skip=("ravine", "torch"), none="default")
    env = dict(data.get("environment") or {})
    for key in ("ravine", "torch"):
        if key in s and key not in env:
            env[key] = s[key]
    env_items = items(env)
    return (
        '<div class="cols">'
        f"<div><h3>Settings</h3>{definition_list(pairs)}</div>"
        f"<div><h3>Environment</h3>{definition_list(env_items)}</div>"
        "</div>"
    )
