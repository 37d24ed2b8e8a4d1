"""Backlog and ageing: known answers on `incident_data.backlog_desk` (the figures are in its docstring)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from reporting import registry
from reporting.incidents.backlog import ageing_at
from reporting.params import GROUP_BYS, parse
from tests.factories import AssignmentGroupFactory
from tests.reporting.incident_data import backlog_desk

pytestmark = pytest.mark.django_db

COLUMNS = ("backlog", "age_under_1d", "age_1_3d", "age_3_7d", "age_7_30d", "age_over_30d")


def table(**query) -> list[tuple]:
    rows = registry.get("backlog").compute(parse(query))
    return [(row["period"], row["group"], *(row[c] for c in COLUMNS)) for row in rows]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


@pytest.fixture
def desk():
    return backlog_desk()


def test_by_day(desk, django_assert_max_num_queries):
    """S exactly 3 days old at 12-02 00:00 is 1-3 days; finished at 12-03 00:00 sharp, it is open then;
    X crosses 30 days between 12-02 and 12-03; V, reopened, is open from its opening to its last resolution."""
    with django_assert_max_num_queries(3):
        rows = table(**{"from": "2026-12-01", "to": "2026-12-04"})
    assert rows == [
        ("2026-12-01", None, 6, 1, 1, 0, 3, 1),
        ("2026-12-02", None, 5, 0, 1, 1, 1, 2),
        ("2026-12-03", None, 3, 0, 1, 0, 0, 2),
    ]


def test_by_week_and_month(desk):
    assert table(**{"from": "2026-11-30", "to": "2026-12-07", "interval": "week"}) == [
        ("2026-11-30", None, 3, 0, 0, 1, 0, 2),  # P, X over 30 days; R 6 days
    ]
    assert table(**{"from": "2026-11-01", "to": "2027-01-01", "interval": "month"}) == [
        ("2026-11-01", None, 5, 0, 1, 0, 3, 1),
        ("2026-12-01", None, 3, 0, 0, 0, 0, 3),
    ]


def test_grouped_by_assignment_group(desk, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        rows = table(**{"from": "2026-12-01", "to": "2026-12-04", "group_by": "assignment_group"})
    assert rows == [
        ("2026-12-01", "Apps", 3, 0, 1, 0, 2, 0),
        ("2026-12-01", "Desk", 3, 1, 0, 0, 1, 1),
        ("2026-12-02", "Apps", 3, 0, 0, 1, 1, 1),
        ("2026-12-02", "Desk", 2, 0, 1, 0, 0, 1),
        ("2026-12-03", "Apps", 1, 0, 0, 0, 0, 1),
        ("2026-12-03", "Desk", 2, 0, 1, 0, 0, 1),
    ]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("group_by", [None, *GROUP_BYS])
def test_backlog_is_volumes_backlog(desk, interval, group_by):
    query = {"from": "2026-10-20", "to": "2026-12-20", "interval": interval}
    if group_by:
        query["group_by"] = group_by
    params = parse(query)
    volume = {(r["period"], r["group_key"]): r["backlog"] for r in registry.get("volume").compute(params)}
    rows = registry.get("backlog").compute(params)
    assert {(r["period"], r["group_key"]): r["backlog"] for r in rows} == volume
    for row in rows:
        assert sum(row[c] for c in COLUMNS[1:]) == row["backlog"]


def test_ageing_at_a_past_moment(desk, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert ageing_at(utc(2026, 12, 2)) == [
            {
                "group": None,
                "group_key": None,
                "backlog": 6,
                "age_under_1d": 1,
                "age_1_3d": 1,
                "age_3_7d": 0,
                "age_7_30d": 3,
                "age_over_30d": 1,
            }
        ]
    with django_assert_num_queries(1):  # labels joined in
        rows = ageing_at(utc(2026, 12, 3), group_by="assignment_group")
    assert [(r["group"], r["group_key"], *(r[c] for c in COLUMNS)) for r in rows] == [
        ("Apps", desk.other_group.pk, 3, 0, 0, 1, 1, 1),
        ("Desk", desk.group.pk, 2, 0, 1, 0, 0, 1),
    ]


def test_ageing_now(desk, django_assert_num_queries):
    with freeze_time("2026-12-05 00:00"), django_assert_num_queries(1):
        row = ageing_at()[0]
    assert tuple(row[c] for c in COLUMNS) == (3, 0, 0, 1, 0, 2)  # R 4 days; P, X over 30 days
    with freeze_time("2026-12-05 00:00"):
        rows = ageing_at(group_by="priority")
    assert [(r["group"], r["backlog"]) for r in rows] == [("P3 - Moderate", 3)]


def test_days_are_local_across_daylight_saving(settings, django_assert_num_queries):
    """Berlin, Sunday 2026-10-25 has 25 hours. H opened 00:30 CEST that day (22:30 UTC on the 24th) is
    24.5 hours old at Monday 00:00 CET and still "under 1 day": ages count local calendar days.
    I opened Saturday 00:30 CEST (2 days and 1 hour before) is 1-3 days old."""
    from incidents import services
    from tests.reporting.incident_data import _agent

    settings.TIME_ZONE = "Europe/Berlin"
    agent = _agent()
    for moment, title in (("2026-10-24 22:30", "H"), ("2026-10-23 22:30", "I")):
        with freeze_time(moment):
            services.open_incident(actor=agent, title=title, assignment_group=AssignmentGroupFactory())
    assert table(**{"from": "2026-10-24", "to": "2026-10-27"}) == [
        ("2026-10-24", None, 1, 1, 0, 0, 0, 0),  # Sunday 00:00 CEST: I
        ("2026-10-25", None, 2, 1, 1, 0, 0, 0),  # Monday 00:00 CET = Sunday 23:00 UTC
        ("2026-10-26", None, 2, 0, 2, 0, 0, 0),
    ]
    monday = dt.datetime(2026, 10, 26, tzinfo=ZoneInfo("Europe/Berlin"))
    with django_assert_num_queries(1):
        row = ageing_at(monday)[0]
    assert tuple(row[c] for c in COLUMNS) == (2, 1, 1, 0, 0, 0)
    volume = registry.get("volume").compute(parse({"from": "2026-10-24", "to": "2026-10-27"}))
    assert [(r["period"], r["opened"], r["backlog"]) for r in volume] == [
        ("2026-10-24", 1, 1),
        ("2026-10-25", 1, 2),
        ("2026-10-26", 0, 2),
    ]
