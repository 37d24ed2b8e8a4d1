"""The major-incidents and problems reports on PostgreSQL: the known-answer data sets of
tests/reporting/test_major.py and test_problems.py give the same rows (EXTRACT(EPOCH) seconds,
timestamptz buckets, the pro rata cost sums, the correlated subqueries) in the same few queries."""

from __future__ import annotations

import pytest
from freezegun import freeze_time

from problems.metrics import problem_metrics
from reporting.params import parse
from reporting.registry import get
from tests.reporting import test_major, test_problems

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_major_incidents_on_postgresql(django_assert_max_num_queries):
    history = test_major.build_history()

    monthly = test_major.report(**{"from": "2026-01-01", "to": "2026-04-01", "interval": "month"})
    daily = test_major.report(**{"from": "2026-01-31", "to": "2026-02-02", "interval": "day"})
    weekly = test_major.report(**{"from": "2026-01-26", "to": "2026-02-16", "interval": "week"})
    by_service = test_major.report(
        **{"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "group_by": "service"}
    )

    assert monthly == [test_major.JANUARY, test_major.FEBRUARY, test_major.MARCH]
    assert [(r["period"], r["estimated_cost"]) for r in daily] == [("2026-01-31", "2000.00"), ("2026-02-01", "2000.00")]
    assert [r["estimated_cost"] for r in weekly] == ["4000.00", "0.00", "1500.00"]
    assert [(r["group_key"], r["estimated_cost"]) for r in by_service] == [
        (history["s1"].pk, "2000.00"),
        (history["s2"].pk, "0.00"),
        (history["s1"].pk, "2000.00"),
        (history["s2"].pk, "1500.00"),
    ]
    with django_assert_max_num_queries(5):  # two years by day: 731 cost sums in one statement
        rows = test_major.report(**{"from": "2025-03-01", "to": "2027-03-01", "interval": "day", "group_by": "channel"})
    assert sum(float(r["estimated_cost"]) for r in rows) == pytest.approx(5500.00)


def test_problems_on_postgresql(django_assert_max_num_queries):
    history = test_problems.build_history()

    monthly = test_problems.report(**{"from": "2026-01-01", "to": "2026-03-01", "interval": "month"})
    daily = test_problems.report(**{"from": "2026-02-04", "to": "2026-02-07", "interval": "day"})
    by_owner = test_problems.report(
        **{"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "group_by": "assignee"}
    )

    assert monthly == [test_problems.JANUARY, test_problems.FEBRUARY]
    assert [r["known_errors_live"] for r in daily] == [2, 2, 1]
    assert [(r["group_key"], r["opened"], r["known_errors_live"]) for r in by_owner] == [
        (history["olga"].pk, 1, 2),
        (history["oscar"].pk, 1, 0),
        (history["olga"].pk, 0, 1),
        (history["oscar"].pk, 2, 1),
    ]
    with django_assert_max_num_queries(9):
        test_problems.report(**{"from": "2025-03-01", "to": "2027-03-01", "interval": "day", "group_by": "category"})

    # The one-period figures come from the same queries.
    params = parse({"from": "2026-02-01", "to": "2026-03-01"})
    with freeze_time(test_problems.at(2026, 3, 1)):
        m = problem_metrics(params.start_at, params.end_at)
    assert (m.problems_opened, m.resolved, m.known_errors_live, m.deflections) == (2, 2, 2, 1)
    assert m.mean_time_to_resolution_seconds == test_problems.FEBRUARY["mean_time_to_resolution_seconds"]
    assert [(row["number"], row["deflections"]) for row in m.top_deflecting] == [(history["p1"].number, 1)]
    assert get("problems").compute(params)[0]["opened"] == 1  # by day: P4 opened on the first of February
