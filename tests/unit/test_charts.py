"""The dashboard's server-drawn SVG bar charts: bars scaled to the tallest, stacked series,
every text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from voxcast.console.charts import HEIGHT, Bar, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_bars_are_scaled_to_the_tallest_and_stacked() -> None:
    chart = bar_chart(
        "c",
        "Calls <per> day",
        ("answered", "not answered"),
        [
            Bar("Mon", (3, 1), "Mon: 4 calls"),
            Bar("Tue", (0, 2), 'say "<b>"'),
            Bar("Wed", (0, 0), ""),
        ],
    )
    root = ET.fromstring(str(chart).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))
    assert root.get("id") == "c" and root.get("aria-label") == "Calls <per> day"
    bars = root.findall(f"{SVG}g")
    assert [b.get("data-label") for b in bars] == ["Mon", "Tue", "Wed"]
    assert bars[1].find(f"{SVG}title").text == 'say "<b>"'  # type: ignore[union-attr]
    heights = [[float(r.get("height", "")) for r in b.findall(f"{SVG}rect")] for b in bars]
    plot = heights[0][0] + heights[0][1]  # the tallest bar fills the plot
    assert plot == HEIGHT - 22 - 16
    assert heights[0] == [plot * 3 / 4, plot * 1 / 4]
    assert heights[1] == [0.0, plot / 2]
    assert heights[2] == [0.0, 0.0]
    values = [[r.get("data-value") for r in b.findall(f"{SVG}rect")] for b in bars]
    assert values == [["3", "1"], ["0", "2"], ["0", "0"]]
    # stacked: the second series sits on top of the first
    mon = bars[0].findall(f"{SVG}rect")
    assert float(mon[1].get("y", "")) + heights[0][1] == float(mon[0].get("y", ""))


def test_an_empty_week_draws_flat_bars() -> None:
    chart = bar_chart("c", "Cost", ("cost",), [Bar("Mon", (0.0,), "")])
    assert 'height="0.0"' in str(chart)
