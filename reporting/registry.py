"""The reports: what each one is called, measures, groups by and charts.

A report is one query function, `compute(params) -> rows`, served alike by the API (JSON and
CSV), the console's report page and the dashboard; nothing else computes its numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reporting.params import GROUP_BYS, ReportParams

UNITS = ("count", "seconds", "ratio", "money")


@dataclass(frozen=True)
class Column:
    """One metric of a report's rows: its key, its heading and its unit (how pages format it)."""

    key: str
    label: str
    unit: str = "count"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")


@dataclass(frozen=True)
class Report:
    """A named report: `compute` returns rows {"period", "group", "group_key", <column keys>}.

    `chart` names the columns the report page and the dashboard draw (`chart_type` line or bar);
    `group_bys` the groupings it accepts (an empty tuple: never grouped).
    """

    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    compute: Callable[[ReportParams], list[dict]]
    group_bys: tuple[str, ...] = GROUP_BYS
    chart: tuple[str, ...] = ()
    chart_type: str = "line"
    order: int = 100
    extra: dict = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """The CSV header: period, group, group_key, then the metrics in column order."""
        return ["period", "group", "group_key", *(c.key for c in self.columns)]


REPORTS: dict[str, Report] = {}


def register(report: Report) -> Report:
    """Add a report to the catalogue (once per name)."""
    if report.name in REPORTS and REPORTS[report.name] is not report:
        raise ValueError(f"report {report.name!r} is registered twice")
    REPORTS[report.name] = report
    return report


def get(name: str) -> Report | None:
    return REPORTS.get(name)


def ordered() -> list[Report]:
    return sorted(REPORTS.values(), key=lambda r: (r.order, r.name))
