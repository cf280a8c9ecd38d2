"""Bar charts drawn on the server as inline SVG (no script, no chart library): the dashboard's
calls and cost per day. Each bar carries its figures in a `<title>` a browser shows on hover."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH, HEIGHT = 420, 160
#: room for the axis labels under the bars and the top value over the tallest
BOTTOM, TOP, LEFT = 22, 16, 4


@dataclass(frozen=True)
class Bar:
    label: str
    #: stacked from the bottom: one value per series
    values: tuple[float, ...]
    title: str


def bar_chart(chart_id: str, caption: str, series: Sequence[str], bars: Sequence[Bar]) -> Markup:
    """A stacked bar chart, one bar per entry, scaled to its tallest bar. Every text is
    escaped by `Markup.format`."""
    tallest = max((sum(b.values) for b in bars), default=0.0) or 1.0
    slot = (WIDTH - LEFT) / max(len(bars), 1)
    plot = HEIGHT - BOTTOM - TOP
    parts = [
        Markup(
            '<svg id="{}" class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
            "<title>{}</title>"
        ).format(chart_id, WIDTH, HEIGHT, caption, caption)
    ]
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + slot * 0.15
        width = slot * 0.7
        base = float(HEIGHT - BOTTOM)
        parts.append(
            Markup('<g class="bar" data-label="{}"><title>{}</title>').format(bar.label, bar.title)
        )
        for k, value in enumerate(bar.values):
            h = plot * value / tallest
            base -= h
            parts.append(
                Markup(
                    '<rect class="s{}" data-series="{}" data-value="{}" '
                    'x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>'
                ).format(k, series[k], f"{value:g}", x, base, width, h)
            )
        middle = x + width / 2
        parts.append(
            Markup(
                '<text class="axis" x="{:.1f}" y="{}">{}</text>'
                '<text class="top" x="{:.1f}" y="{:.1f}">{}</text></g>'
            ).format(middle, HEIGHT - 6, bar.label, middle, base - 3, _short(sum(bar.values)))
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _short(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
