"""Small server-side SVG charts for the admin dashboard: no JavaScript, no CDN, nothing to load.

Each function returns safe markup. Bars carry a ``<title>`` so hovering shows the exact value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

Number = int | float | Decimal
Formatter = Callable[[Number], str]

PALETTE = ("#417690", "#79aec8", "#e0a84f", "#8bb174", "#c96a6a", "#9b7fbf", "#5fb3b3")


def money(value: Number) -> str:
    v = float(value)
    if v == 0:
        return "$0"
    if abs(v) >= 1000:
        return f"${v:,.0f}"
    if abs(v) >= 0.1:
        return f"${v:,.2f}"
    if abs(v) >= 0.01:
        return f"${v:.3f}"
    return f"${v:.5f}"


def count(value: Number) -> str:
    v = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= limit:
            return f"{v / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{v:.0f}"


def _nice_step(peak: float, ticks: int = 4) -> float:
    if peak <= 0:
        return 1.0
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 720, 240, 64, 12, 14, 34


def _axes(peak: float, fmt: Formatter) -> tuple[list[str], float]:
    step = _nice_step(peak)
    top = step * max(1, math.ceil(peak / step)) if peak > 0 else step
    plot_h = _H - _TOP - _BOTTOM
    parts = []
    ticks = round(top / step)
    for i in range(ticks + 1):
        value = step * i
        y = _TOP + plot_h - plot_h * value / top
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    return parts, top


def stacked_columns(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    *,
    fmt: Formatter = count,
    title: str = "",
) -> SafeString:
    """Vertical bars per label, one stacked segment per series (a single series is plain bars).
    ``labels`` are x-axis labels (days); every ``series`` has one value per label."""
    n = len(labels)
    totals = [sum(float(values[i] or 0) for _, values in series) for i in range(n)]
    grid, top = _axes(max(totals, default=0), fmt)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / max(n, 1)
    bar_w = max(1.0, slot * 0.72)
    every = max(1, math.ceil(n / 10))
    parts = [*grid]
    for i, label in enumerate(labels):
        x = _LEFT + slot * i + (slot - bar_w) / 2
        base = _TOP + plot_h
        tip = [f"{label}"]
        for s, (name, values) in enumerate(series):
            value = float(values[i] or 0)
            h = plot_h * value / top if top else 0
            if h > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                    f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} {escape(name)}: '
                    f"{escape(fmt(value))}</title></rect>"
                )
            base -= h
            tip.append(f"{name} {fmt(value)}")
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{_H - _BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_TOP + plot_h}" '
        f'y2="{_TOP + plot_h}"/>'
    )
    legend = ""
    if len(series) > 1:
        legend = "".join(
            format_html(
                '<span class="ai-legend-item"><i style="background:{}"></i>{}</span>',
                PALETTE[s % len(PALETTE)],
                name,
            )
            for s, (name, _) in enumerate(series)
        )
        legend = f'<div class="ai-legend">{legend}</div>'
    svg = (
        f'<svg class="ai-chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
        + "".join(parts)
        + "</svg>"
    )
    return mark_safe(legend + svg)


def bar_list(
    items: Sequence[tuple[str, Number | None, str]],
    *,
    fmt: Formatter = money,
    empty: str = "No usage in this period.",
    unknown: str = "price unknown",
) -> SafeString:
    """Horizontal bars: (label, value, detail) per row, scaled to the largest value. A value
    of None is shown as ``unknown`` (a cost that is not known is not $0)."""
    if not items:
        return format_html('<p class="ai-empty">{}</p>', empty)
    peak = max(float(v or 0) for _, v, _ in items) or 1.0
    rows = []
    for i, (label, value, detail) in enumerate(items):
        width = 100 * float(value or 0) / peak
        rows.append(
            format_html(
                '<div class="ai-bar-row"><div class="ai-bar-label" title="{}">{}</div>'
                '<div class="ai-bar-track"><div class="ai-bar" style="width:{}%;background:{}">'
                '</div></div><div class="ai-bar-value">{}<small>{}</small></div></div>',
                label,
                label,
                f"{width:.1f}",
                PALETTE[i % len(PALETTE)],
                unknown if value is None else fmt(value),
                detail,
            )
        )
    return mark_safe('<div class="ai-bars">' + "".join(rows) + "</div>")
