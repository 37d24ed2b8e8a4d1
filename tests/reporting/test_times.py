"""MTTA and MTTR: known answers on `incident_data.sla_desk` (every figure is worked out in its docstring)."""

import pytest

from reporting import registry
from reporting.params import parse
from tests.reporting.incident_data import sla_desk

pytestmark = pytest.mark.django_db

MTTA = ("responded", "mtta_seconds", "mtta_business_seconds")
MTTR = ("resolved", "mttr_seconds", "mttr_business_seconds", "paused_business_seconds", "reopened")


def table(name: str, columns: tuple, **query) -> list[tuple]:
    rows = registry.get(name).compute(parse(query))
    return [(row["period"], row["group"], *(row[c] for c in columns)) for row in rows]


@pytest.fixture
def desk():
    return sla_desk()


def test_mtta_by_week_across_a_weekend_and_a_holiday(desk, django_assert_max_num_queries):
    """A: 40 business minutes over Fri 17:30 -> Tue 09:10 (weekend and holiday count nothing).

    Week of 12-07: B 1,800 / 1,800, C 3,000 / 3,000, D 232,200 / 5,400, F 0 / 0.
    """
    with django_assert_max_num_queries(1):
        rows = table("mtta", MTTA, **{"from": "2026-11-30", "to": "2026-12-14", "interval": "week"})
    assert rows == [
        ("2026-11-30", None, 1, 315_600, 2_400),
        ("2026-12-07", None, 4, 59_250, 2_550),
    ]


def test_mtta_by_day_and_month(desk):
    assert table("mtta", MTTA, **{"from": "2026-12-07", "to": "2026-12-10"}) == [
        ("2026-12-07", None, 2, 117_000, 3_600),  # B and D
        ("2026-12-08", None, 2, 1_500, 1_500),  # C and F
        ("2026-12-09", None, 0, None, None),  # nothing measured: no mean, never 0
    ]
    # A opened in November and responded in December: it belongs to December.
    assert table("mtta", MTTA, **{"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}) == [
        ("2026-11-01", None, 0, None, None),
        ("2026-12-01", None, 5, 110_520, 2_520),
    ]


def test_mttr_by_week_paused_time_and_reopen(desk, django_assert_max_num_queries):
    """A: 5 h 30 business minutes, 8 paused business hours. Week of 12-07: B (reopened: 6 h), C (3 h), F (19 h)."""
    with django_assert_max_num_queries(1):
        rows = table("mttr", MTTR, **{"from": "2026-11-30", "to": "2026-12-14", "interval": "week"})
    assert rows == [
        ("2026-11-30", None, 1, 415_800, 19_800, 28_800, 0),
        ("2026-12-07", None, 3, 92_400, 33_600, 0, 1),
    ]


def test_mttr_counts_the_last_resolution_only(desk):
    """B was resolved on 12-07, reopened, and resolved again on 12-08: it counts on 12-08 only."""
    assert table("mttr", MTTR, **{"from": "2026-12-07", "to": "2026-12-11"}) == [
        ("2026-12-07", None, 0, None, None, None, 0),
        ("2026-12-08", None, 2, 50_400, 16_200, 0, 1),
        ("2026-12-09", None, 0, None, None, None, 0),
        ("2026-12-10", None, 1, 176_400, 68_400, 0, 0),
    ]
    assert table("mttr", MTTR, **{"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}) == [
        ("2026-11-01", None, 0, None, None, None, 0),
        ("2026-12-01", None, 4, 173_250, 30_150, 7_200, 1),
    ]


# The week of 12-07 (B, C, F) split by each grouping: {label: (resolved, wall, business, paused, reopened)}.
WEEK_OF_DEC_7 = {
    "service": {"Mail": (3, 92_400, 33_600, 0, 1)},  # groups are the ones found in the range
    "assignment_group": {"Apps": (3, 92_400, 33_600, 0, 1)},
    "priority": {"P1 - Critical": (1, 10_800, 10_800, 0, 0), "P3 - Moderate": (2, 133_200, 45_000, 0, 1)},
    "channel": {"Email": (1, 10_800, 10_800, 0, 0), "API": (2, 133_200, 45_000, 0, 1)},
    "category": {"Network": (1, 176_400, 68_400, 0, 0), "(none)": (2, 50_400, 16_200, 0, 1)},
    "assignee": {"second-agent": (1, 90_000, 21_600, 0, 1), "report-agent": (2, 93_600, 39_600, 0, 0)},
}


@pytest.mark.parametrize("group_by", sorted(WEEK_OF_DEC_7))
def test_mttr_grouped(desk, group_by, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the rows, then the labels of the keys found
        rows = table(
            "mttr", MTTR, **{"from": "2026-12-07", "to": "2026-12-14", "interval": "week", "group_by": group_by}
        )
    expected = WEEK_OF_DEC_7[group_by]
    assert {row[1]: row[2:] for row in rows} == expected
    assert [row[0] for row in rows] == ["2026-12-07"] * len(expected)


def test_mtta_grouped_by_service(desk):
    rows = table("mtta", MTTA, **{"from": "2026-11-30", "to": "2026-12-14", "interval": "week", "group_by": "service"})
    assert rows == [
        ("2026-11-30", "Mail", 0, None, None),
        ("2026-11-30", "Payroll", 1, 315_600, 2_400),
        ("2026-12-07", "Mail", 3, 1_600, 1_600),  # B, C, F
        ("2026-12-07", "Payroll", 1, 232_200, 5_400),  # D
    ]
