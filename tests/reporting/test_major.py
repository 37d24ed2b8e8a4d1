"""The major-incidents report against a history whose every figure was worked out by hand.

Times are UTC (the test site's TIME_ZONE). Two services: S1 costs 1000.00/h, S2 500.00/h.

- MI A (P1 on S1, manager Maya): impact 2026-01-31 22:00, detected 22:10, declared 22:30 (due
  23:00, cadence 30 min), updates at 22:50 (on time), 23:30 (due 23:20: 600 s late), Feb 1 00:05
  (due 00:00: 300 s late), resolved Feb 1 02:00: 4 h at 1000.00/h = 4000.00 frozen, half in
  each month (2000.00 + 2000.00), in one ISO week (Jan 26 - Feb 1). Three review action items:
  one done, one open due Feb 1 (overdue on Feb 10), one open due Feb 20.
- MI B (P3 on S2, manager Max): impact 2026-02-10 09:00, detected 09:30, declared 10:00 (due
  11:00, cadence 60 min), update at 10:45 (on time); still active at "now" (Feb 10 12:00): a
  live 3 h at 500.00/h = 1500.00, duration 3 h so far.
- MI C: proposed in January and rejected: never declared, counts nowhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from freezegun import freeze_time

from incidents.major import lifecycle, updates
from incidents.major.models import ActionItem, PostIncidentReview
from itsm import roles
from reporting.params import parse
from reporting.registry import get
from tests.factories import ServiceFactory, UserFactory
from tests.incidents.factories import IncidentFactory, factory_actor

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def post(mi, when: datetime, actor) -> None:
    with freeze_time(when):
        updates.post_update(mi, actor=actor, audience="internal", status="investigating", body="Still on it.")


def build_history() -> dict:
    """The data set of the module docstring, made through the major incident use cases."""
    actor = factory_actor()
    maya = UserFactory(username="maya", roles=[roles.MAJOR_INCIDENT_MANAGER])
    max_ = UserFactory(username="max", roles=[roles.MAJOR_INCIDENT_MANAGER])
    s1 = ServiceFactory(name="S1", downtime_cost_per_hour="1000.00")
    s2 = ServiceFactory(name="S2", downtime_cost_per_hour="500.00")

    with freeze_time(at(1, 31, 22, 30)):
        a = lifecycle.propose(
            actor=actor,
            incident=IncidentFactory(service=s1, impact=1, urgency=1),
            reason="Checkout is down.",
            declare=True,
            manager=maya.pk,
            impact_started_at=at(1, 31, 22),
            detected_at=at(1, 31, 22, 10),
            update_cadence_minutes=30,
        )
    post(a, at(1, 31, 22, 50), actor)
    post(a, at(1, 31, 23, 30), actor)
    post(a, at(2, 1, 0, 5), actor)
    with freeze_time(at(2, 1, 2)):
        a = lifecycle.run_transition(a.pk, "resolve", actor=actor)
    review = PostIncidentReview.objects.create(major_incident=a)
    ActionItem.objects.create(review=review, title="Done", done=True, due_date=date(2026, 2, 1))
    ActionItem.objects.create(review=review, title="Overdue", due_date=date(2026, 2, 1))
    ActionItem.objects.create(review=review, title="Not yet due", due_date=date(2026, 2, 20))

    with freeze_time(at(1, 15, 9)):
        c = lifecycle.propose(actor=actor, incident=IncidentFactory(service=s1), reason="Maybe major.")
        lifecycle.run_transition(c.pk, "reject", actor=actor, payload={"reason": "Not major."})

    with freeze_time(at(2, 10, 10)):
        b = lifecycle.propose(
            actor=actor,
            incident=IncidentFactory(service=s2, impact=2, urgency=2),
            reason="Reports are slow.",
            declare=True,
            manager=max_.pk,
            impact_started_at=at(2, 10, 9),
            detected_at=at(2, 10, 9, 30),
            update_cadence_minutes=60,
        )
    post(b, at(2, 10, 10, 45), actor)
    return {"a": a, "b": b, "s1": s1, "s2": s2, "maya": maya, "max": max_}


def report(**query) -> list[dict]:
    with freeze_time(NOW):
        return get("major-incidents").compute(parse(query, get("major-incidents").group_bys))


JANUARY = {
    "period": "2026-01-01",
    "group": None,
    "group_key": None,
    "declared": 1,
    "resolved": 1,
    "total_duration_seconds": 14400,
    "mean_duration_seconds": 14400,
    "estimated_cost": "2000.00",
    "mean_time_to_detect_seconds": 600,
    "mean_time_to_declare_seconds": 1200,
    "mean_time_to_restore_seconds": 14400,
    "updates_due": 2,
    "updates_on_time": 1,
    "updates_late": 1,
    "update_compliance": 0.5,
    "late_seconds": 600,
    "action_items": 3,
    "action_items_open": 2,
    "action_items_overdue": 1,
}
FEBRUARY = {
    "period": "2026-02-01",
    "group": None,
    "group_key": None,
    "declared": 1,
    "resolved": 0,
    "total_duration_seconds": 10800,
    "mean_duration_seconds": 10800,
    "estimated_cost": "3500.00",
    "mean_time_to_detect_seconds": 1800,
    "mean_time_to_declare_seconds": 1800,
    "mean_time_to_restore_seconds": None,
    "updates_due": 2,
    "updates_on_time": 1,
    "updates_late": 1,
    "update_compliance": 0.5,
    "late_seconds": 300,
    "action_items": 0,
    "action_items_open": 0,
    "action_items_overdue": 0,
}
MARCH = {
    **{k: 0 for k in FEBRUARY},
    "period": "2026-03-01",
    "group": None,
    "group_key": None,
    "total_duration_seconds": None,
    "mean_duration_seconds": None,
    "estimated_cost": "0.00",
    "mean_time_to_detect_seconds": None,
    "mean_time_to_declare_seconds": None,
    "mean_time_to_restore_seconds": None,
    "update_compliance": None,
    "late_seconds": None,
}


def test_the_cost_is_frozen_at_resolve_through_the_use_case():
    history = build_history()

    assert str(history["a"].estimated_cost) == "4000.00"


def test_by_month_a_cost_spanning_two_months_is_split_pro_rata():
    build_history()

    assert report(**{"from": "2026-01-01", "to": "2026-04-01", "interval": "month"}) == [JANUARY, FEBRUARY, MARCH]


def test_by_day_the_cost_falls_on_the_hours_of_each_day():
    build_history()

    rows = report(**{"from": "2026-01-31", "to": "2026-02-02", "interval": "day"})

    assert [(r["period"], r["estimated_cost"], r["declared"], r["updates_due"], r["late_seconds"]) for r in rows] == [
        ("2026-01-31", "2000.00", 1, 2, 600),  # 22:00-24:00: 2 of the 4 h
        ("2026-02-01", "2000.00", 0, 1, 300),  # 00:00-02:00
    ]


def test_by_week_the_whole_window_is_in_one_iso_week():
    build_history()

    rows = report(**{"from": "2026-01-26", "to": "2026-02-16", "interval": "week"})

    assert [(r["period"], r["estimated_cost"], r["declared"]) for r in rows] == [
        ("2026-01-26", "4000.00", 1),
        ("2026-02-02", "0.00", 0),
        ("2026-02-09", "1500.00", 1),  # B live: 09:00 to now (12:00) at 500.00/h
    ]


def test_grouped_by_the_primary_incidents_service():
    history = build_history()

    rows = report(**{"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "group_by": "service"})

    assert [(r["period"], r["group"], r["group_key"], r["declared"], r["estimated_cost"]) for r in rows] == [
        ("2026-01-01", "S1", history["s1"].pk, 1, "2000.00"),
        ("2026-01-01", "S2", history["s2"].pk, 0, "0.00"),
        ("2026-02-01", "S1", history["s1"].pk, 0, "2000.00"),
        ("2026-02-01", "S2", history["s2"].pk, 1, "1500.00"),
    ]


def test_grouped_by_assignee_is_the_manager():
    history = build_history()

    rows = report(**{"from": "2026-02-01", "to": "2026-03-01", "interval": "month", "group_by": "assignee"})

    assert [(r["group"], r["group_key"], r["declared"], r["updates_due"], r["late_seconds"]) for r in rows] == [
        ("max", history["max"].pk, 1, 1, 0),
        ("maya", history["maya"].pk, 0, 1, 300),
    ]


def test_a_live_cost_grows_with_the_clock():
    build_history()

    with freeze_time(datetime(2026, 2, 10, 13, 0, tzinfo=UTC)):
        rows = get("major-incidents").compute(parse({"from": "2026-02-10", "to": "2026-02-11"}))

    assert (rows[0]["estimated_cost"], rows[0]["total_duration_seconds"]) == ("2000.00", 4 * 3600)


def test_a_bounded_number_of_queries(django_assert_max_num_queries):
    build_history()

    with django_assert_max_num_queries(5):
        report(**{"from": "2025-03-01", "to": "2027-03-01", "interval": "day", "group_by": "category"})


def test_the_months_are_cut_in_the_site_timezone(settings):
    """In Berlin (UTC+1 in winter) MI A runs 23:00-03:00 local: 1 h in January, 3 h in February."""
    settings.TIME_ZONE = "Europe/Berlin"
    build_history()

    rows = report(**{"from": "2026-01-01", "to": "2026-03-01", "interval": "month"})

    assert [(r["period"], r["estimated_cost"], r["declared"]) for r in rows] == [
        ("2026-01-01", "1000.00", 1),  # declared 23:30 local on Jan 31
        ("2026-02-01", "4500.00", 1),  # 3000.00 of A and B's live 1500.00
    ]
