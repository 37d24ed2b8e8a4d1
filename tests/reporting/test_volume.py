"""Incident volume: known answers for every column on `incident_data.backlog_desk` (see its docstring)."""

import pytest

from reporting import registry
from reporting.params import parse
from tests.reporting.incident_data import backlog_desk

pytestmark = pytest.mark.django_db

# The columns the tables below spell out (change_caused has a test of its own).
COLUMNS = [c.key for c in registry.get("volume").columns if c.key != "change_caused"]


def table(**query) -> list[tuple]:
    rows = registry.get("volume").compute(parse(query))
    return [(row["period"], row["group"], *(row[c] for c in COLUMNS)) for row in rows]


@pytest.fixture
def desk():
    return backlog_desk()


def test_columns():
    assert [c.key for c in registry.get("volume").columns] == [
        "opened",
        "resolved",
        "backlog",
        "reassigned",
        "reassignment_rate",
        "reassignments",
        "change_caused",
        "reopened",
        "reopen_rate",
        "first_contact_resolved",
        "first_contact_resolution_rate",
    ]


def test_by_day(desk, django_assert_max_num_queries):
    """12-02: T opened, reassigned twice, resolved; Q resolved (first contact). 12-03: V resolved after its
    reopen; S cancelled at midnight (finished, not resolved)."""
    with django_assert_max_num_queries(4):
        rows = table(**{"from": "2026-12-01", "to": "2026-12-04"})
    assert rows == [
        ("2026-12-01", None, 1, 0, 6, 0, 0.0, 0, 0, None, 0, None),
        ("2026-12-02", None, 1, 2, 5, 1, 1.0, 2, 0, 0.0, 1, 0.5),
        ("2026-12-03", None, 0, 1, 3, 0, None, 0, 1, 1.0, 0, 0.0),
    ]


def test_by_week_and_month(desk):
    """V's first resolution (11-12) was undone by its reopen: November resolved only U."""
    assert table(**{"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}) == [
        ("2026-11-01", None, 5, 1, 5, 0, 0.0, 0, 0, 0.0, 1, 1.0),
        ("2026-12-01", None, 2, 3, 3, 1, 0.5, 2, 1, 0.3333, 1, 0.3333),
    ]
    assert table(**{"from": "2026-11-23", "to": "2026-12-07", "interval": "week"}) == [
        ("2026-11-23", None, 2, 1, 5, 0, 0.0, 0, 0, 0.0, 1, 1.0),  # S, U opened; U resolved; P Q S V X open
        ("2026-11-30", None, 2, 3, 3, 1, 0.5, 2, 1, 0.3333, 1, 0.3333),
    ]


def test_grouped_by_assignment_group(desk, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        rows = table(**{"from": "2026-12-02", "to": "2026-12-03", "group_by": "assignment_group"})
    assert rows == [
        ("2026-12-02", "Apps", 1, 1, 3, 1, 1.0, 2, 0, 0.0, 0, 0.0),
        ("2026-12-02", "Desk", 0, 1, 2, 0, None, 0, 0, 0.0, 1, 1.0),
    ]


def test_change_caused_counts_the_opened_incidents_that_name_their_change(desk):
    """T (opened 12-02) and Q (opened 11-20) name the change that caused them; Q is counted in November."""
    from incidents import services

    agent = desk.agent
    services.update_incident(desk.incidents["T"], actor=agent, changes={"caused_by_change": "CHG0042"})
    services.update_incident(
        desk.incidents["Q"],
        actor=agent,
        changes={"caused_by_change": "https://changes.example.com/CHG0007", "caused_by_change_summary": "DNS move"},
    )
    rows = registry.get("volume").compute(parse({"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}))
    assert [(r["period"], r["change_caused"]) for r in rows] == [("2026-11-01", 1), ("2026-12-01", 1)]
