"""Chart pieces shared by the sections: the optimiser toggles, a chart in its hover box, a group of panels."""

from __future__ import annotations

from collections.abc import Sequence

from ravine.report.html.markup import esc


def toggles(keys: Sequence[tuple[str, str, str]], *, label: str = "Show") -> str:
    """One toggle button per (key, label, colour): pressed shows the key's series, released hides them."""
    buttons = "".join(
        f'<button type="button" class="toggle" data-toggle="{esc(k)}" aria-pressed="true">'
        f'<span class="swatch" style="background:{esc(c)}"></span>{esc(text)}</button>'
        for k, text, c in keys
    )
    return f'<div class="toggles" role="group" aria-label="{esc(label)}">{buttons}</div>'


def box(svg: str) -> str:
    """An SVG chart with the box its hover read-out appears in."""
    return f'<div class="chart-box">{svg}<div class="tip" role="status" aria-live="polite" hidden></div></div>'


def group(panels: Sequence[str], legend: str = "", keys: Sequence[tuple[str, str, str]] = ()) -> str:
    """Panels side by side on a wide screen, stacked on a phone, sharing one set of toggles."""
    bar = toggles(keys) if keys else ""
    note = f'<p class="legend">{legend}</p>' if legend else ""
    return f'<div class="chart-group" data-group>{bar}{note}<div class="panels">{"".join(panels)}</div></div>'
