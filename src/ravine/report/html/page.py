"""The page around the sections: head (inlined style), title, contents, sections, footer, inlined script."""

from __future__ import annotations

from collections.abc import Sequence

from ravine.report.html.assets import CSS, JS
from ravine.report.html.markup import esc
from ravine.report.html.sections import Section


def render(title: str, subtitle: str, sections: Sequence[Section], *, footer: str = "") -> str:
    """One self-contained HTML document: nothing in it is fetched when it is viewed."""
    toc = "".join(f'<li><a href="#{esc(s.ident)}">{esc(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{esc(s.ident)}" class="part" data-kind="{esc(s.kind)}"><h2>{esc(s.title)}</h2>{s.html}</section>'
        for s in sections
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light">'
        f"<title>{esc(title)}</title>"
        '<link rel="icon" href="data:,">'
        f"<style>{CSS}</style></head><body>"
        f'<header class="page wrap"><h1>{esc(title)}</h1><p class="meta">{esc(subtitle)}</p>'
        f'<nav class="toc" aria-label="Contents"><ol>{toc}</ol></nav></header>'
        f'<main class="wrap">{body}</main>'
        f'<footer class="wrap">{esc(footer)}</footer>'
        f"<script>{JS}</script></body></html>\n"
    )
