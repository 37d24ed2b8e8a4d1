"""Report rows as Chart.js data (Unfold's chart components) and as display text.

One place turns a report's rows into what the console draws, for the report pages and the
dashboard alike: durations in hours, ratios in percent, money as a number. The page embeds the
JSON in the canvas's `data-value`; Unfold's script (its bundled Chart.js, a static file) draws it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from reporting.registry import Column, Report

# Distinct, colour-blind-friendly series colours (Okabe-Ito), drawn in this order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
MAX_GROUP_SERIES = 8
SUFFIX = {"seconds": "h", "ratio": "%", "money": "", "count": ""}


def chart_value(value, unit: str) -> float | int | None:
    """A row's value as the chart plots it: hours for durations, percent for ratios, None stays a gap."""
    if value is None:
        return None
    if unit == "seconds":
        return round(value / 3600, 2)
    if unit == "ratio":
        return round(value * 100, 2)
    if unit == "money":
        try:
            return float(Decimal(str(value)))
        except InvalidOperation:
            return None
    return value


def display(value, unit: str) -> str:
    """A row's value as the table shows it (an em dash where nothing was measured)."""
    if value is None:
        return "—"
    if unit == "seconds":
        seconds = int(value)
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        if days:
            return f"{days}d {hours}h"
        if hours:
            return f"{hours}h {minutes:02d}m"
        return f"{minutes}m {seconds % 60:02d}s"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return str(value)
    return str(value)


def dataset(label: str, data: list, index: int, chart_type: str, unit: str) -> dict:
    """One Chart.js series in the palette's `index`-th colour."""
    colour = PALETTE[index % len(PALETTE)]
    series = {
        "label": label,
        "data": data,
        "backgroundColor": colour,
        "borderColor": colour,
        "displayYAxis": index == 0,
        "maxTicksXLimit": 10,
        "spanGaps": True,
    }
    if SUFFIX.get(unit):
        series["suffixYAxis"] = SUFFIX[unit]
    if chart_type == "line":
        series["pointStyle"] = "circle"
        series["pointRadius"] = 2
    return series


def columns_of(report: Report, keys: Iterable[str]) -> list[Column]:
    """The report's columns named by `keys`, in that order (unknown keys skipped)."""
    by_key = {c.key: c for c in report.columns}
    return [by_key[k] for k in keys if k in by_key]


def chart_data(report: Report, rows: list[dict], keys: Iterable[str] | None = None) -> dict | None:
    """Chart.js `{"labels", "datasets"}` for `rows`: one series per charted column, or, when the
    rows are grouped, one series per group (the largest `MAX_GROUP_SERIES`) of the first column.

    None when the report charts nothing.
    """
    columns = columns_of(report, keys if keys is not None else report.chart)
    if not columns:
        return None
    labels = sorted({row["period"] for row in rows})
    grouped = any(row.get("group_key") is not None for row in rows)
    if not grouped:
        by_period = {row["period"]: row for row in rows}
        datasets = [
            dataset(
                column.label,
                [chart_value(by_period.get(p, {}).get(column.key), column.unit) for p in labels],
                i,
                report.chart_type,
                column.unit,
            )
            for i, column in enumerate(columns)
        ]
        return {"labels": labels, "datasets": datasets, "units": [c.unit for c in columns]}
    column = columns[0]
    totals: dict = {}
    values: dict = {}
    names: dict = {}
    for row in rows:
        key = row.get("group_key")
        names[key] = row.get("group") if row.get("group") is not None else "(none)"
        value = row.get(column.key)
        values[(row["period"], key)] = value
        totals[key] = totals.get(key, 0) + (float(Decimal(str(value))) if value is not None else 0)
    top = sorted(totals, key=lambda k: (-totals[k], str(names[k])))[:MAX_GROUP_SERIES]
    datasets = [
        dataset(
            f"{names[key]}",
            [chart_value(values.get((p, key)), column.unit) for p in labels],
            i,
            report.chart_type,
            column.unit,
        )
        for i, key in enumerate(top)
    ]
    return {"labels": labels, "datasets": datasets, "units": [column.unit], "column": column.label}


def to_json(data: dict | None) -> str:
    """The chart's `data-value` (the template escapes it into the attribute)."""
    if not data:
        return ""
    return json.dumps({"labels": data["labels"], "datasets": data["datasets"]}, separators=(",", ":"))


def legend(data: dict | None) -> list[dict]:
    """The series names and colours, shown as text beside the chart (Unfold hides Chart.js's legend)."""
    if not data:
        return []
    return [{"label": d["label"], "colour": d["borderColor"]} for d in data["datasets"]]


def table(report: Report, rows: list[dict]) -> dict:
    """Headers and display rows for the report page's table."""
    headers = ["Period", "Group", *(c.label for c in report.columns)]
    body = [
        [
            row["period"],
            row["group"] if row.get("group") is not None else "—",
            *(display(row.get(c.key), c.unit) for c in report.columns),
        ]
        for row in rows
    ]
    return {"headers": headers, "rows": body, "grouped": any(r.get("group_key") is not None for r in rows)}
