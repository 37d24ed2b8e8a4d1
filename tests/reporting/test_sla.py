"""SLA compliance: known answers on `incident_data.sla_desk` (met at stopped_at, breached at breached_at)."""

import pytest
from freezegun import freeze_time

from incidents.tasks import sweep_sla_clocks
from reporting import registry
from reporting.params import parse
from tests.reporting.incident_data import sla_desk

pytestmark = pytest.mark.django_db

COLUMNS = (
    "response_met",
    "response_breached",
    "response_compliance",
    "resolution_met",
    "resolution_breached",
    "resolution_compliance",
)


def table(**query) -> list[tuple]:
    rows = registry.get("sla-compliance").compute(parse(query))
    return [(row["period"], row["group"], *(row[c] for c in COLUMNS)) for row in rows]


@pytest.fixture
def desk():
    return sla_desk()


def test_by_day(desk, django_assert_max_num_queries):
    """E's cancelled clocks count nowhere; F's resolution breached on 12-09 although it stopped on 12-10;
    B's resolution, met on 12-07 and resumed by the reopen, is decided on 12-08."""
    with django_assert_max_num_queries(2):  # the met clocks, the breached ones
        rows = table(**{"from": "2026-12-01", "to": "2026-12-11"})
    assert rows == [
        ("2026-12-01", None, 1, 0, 1.0, 0, 0, None),  # A responded in 40 of 60 minutes
        ("2026-12-02", None, 0, 0, None, 1, 0, 1.0),  # A resolved in 5.5 of 16 h (paused 8 h)
        ("2026-12-03", None, 0, 0, None, 0, 0, None),
        ("2026-12-04", None, 0, 0, None, 0, 0, None),
        ("2026-12-05", None, 0, 0, None, 0, 0, None),
        ("2026-12-06", None, 0, 0, None, 0, 0, None),
        ("2026-12-07", None, 1, 1, 0.5, 0, 0, None),  # B met; D breached at 08:30
        ("2026-12-08", None, 2, 0, 1.0, 2, 0, 1.0),  # C, F responded; B, C resolved
        ("2026-12-09", None, 0, 0, None, 0, 1, 0.0),  # F breached at 15:00
        ("2026-12-10", None, 0, 0, None, 0, 0, None),  # F stopped: already decided
    ]


def test_by_week_and_month(desk):
    assert table(**{"from": "2026-11-30", "to": "2026-12-14", "interval": "week"}) == [
        ("2026-11-30", None, 1, 0, 1.0, 1, 0, 1.0),
        ("2026-12-07", None, 3, 1, 0.75, 2, 1, 0.6667),
    ]
    assert table(**{"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}) == [
        ("2026-11-01", None, 0, 0, None, 0, 0, None),
        ("2026-12-01", None, 4, 1, 0.8, 3, 1, 0.75),
    ]


def test_grouped_by_service_and_priority(desk, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # then the labels
        rows = table(**{"from": "2026-12-07", "to": "2026-12-14", "interval": "week", "group_by": "service"})
    assert rows == [
        ("2026-12-07", "Mail", 3, 0, 1.0, 2, 1, 0.6667),
        ("2026-12-07", "Payroll", 0, 1, 0.0, 0, 0, None),
    ]
    assert table(**{"from": "2026-12-07", "to": "2026-12-14", "interval": "week", "group_by": "priority"}) == [
        ("2026-12-07", "P1 - Critical", 1, 0, 1.0, 1, 0, 1.0),  # C
        ("2026-12-07", "P3 - Moderate", 2, 1, 0.6667, 1, 1, 0.5),  # B, F; D
    ]


def test_a_breach_of_a_clock_still_running_counts_when_it_happened(desk):
    """D's resolution clock reaches 16 business hours on Tue 12-08 15:30 Berlin (14:30 UTC) and runs on."""
    with freeze_time("2026-12-08 14:31"):
        sweep_sla_clocks()
    clock = desk.incidents["D"].sla_clocks.get(kind="resolution")
    assert (clock.stage, clock.stopped_at) == ("breached", None)
    assert table(**{"from": "2026-12-08", "to": "2026-12-09"}) == [("2026-12-08", None, 2, 0, 1.0, 2, 1, 0.6667)]
