"""The problems report against a history whose every figure was worked out by hand.

Everything happens through the problem, KEDB and incident use cases at frozen UTC times:

- P0 (S1, owner Olga): opened 2025-12-10, known error (published) 12-11, resolved 12-20,
  closed 2026-01-10 (its known error retired then: live in January, not in February).
- P1 (S1, Olga, manual): opened 01-05 09:00 with incidents X and Y, known error 01-06 09:00
  (24 h), resolved 02-03 09:00 (29 days). Workaround applied to X with resolve on 01-20 (a
  deflection); to Y with resolve on 01-21, Y reopened 01-22 (the deflection taken back). A new
  incident linked on 02-10 is a recurrence (P1 is resolved). P1 ends with 3 incidents.
- P2 (S2, Oscar, proactive): opened 01-15 12:00 with one incident, investigating.
- P3 (S2, Oscar, proactive): opened 02-02, cancelled 02-04.
- P4 (S2, Oscar, manual): opened 02-01 08:00, known error 02-01 10:00 (2 h), resolved 02-02 08:00
  (24 h), closed 02-05 (its known error retired then, after being live in February).
- A self-service fix with P1's known error on 02-12 (a deflection).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from freezegun import freeze_time

from incidents import services as incident_services
from itsm import roles
from problems import lifecycle, links
from problems.kedb import uses
from problems.models import KnownError
from reporting.params import parse
from reporting.registry import get
from tests.factories import ServiceFactory, UserFactory
from tests.incidents.factories import IncidentFactory, bring_to, factory_actor
from tests.problems.factories import payload_for

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def move(problem, name: str, when: datetime, actor):
    with freeze_time(when):
        return lifecycle.run_transition(problem.pk, name, actor=actor, payload=payload_for(name, problem))


def open_problem(when: datetime, actor, **fields):
    with freeze_time(when):
        return lifecycle.open_problem(actor=actor, **fields)


def build_history() -> dict:
    """The data set of the module docstring."""
    actor = factory_actor()
    olga = UserFactory(username="olga", roles=[roles.PROBLEM_MANAGER])
    oscar = UserFactory(username="oscar", roles=[roles.PROBLEM_MANAGER])
    s1, s2 = ServiceFactory(name="S1"), ServiceFactory(name="S2")

    p0 = open_problem(at(2025, 12, 10), actor, title="P0", service=s1, owner=olga)
    for name, when in (
        ("investigate", at(2025, 12, 10, 10)),
        ("mark_known_error", at(2025, 12, 11)),
        ("resolve", at(2025, 12, 20)),
        ("close", at(2026, 1, 10)),
    ):
        p0 = move(p0, name, when, actor)

    with freeze_time(at(2026, 1, 5)):
        x, y = IncidentFactory(service=s1), IncidentFactory(service=s1)
    p1 = open_problem(at(2026, 1, 5), actor, title="P1", service=s1, owner=olga, impact=1, urgency=1)
    with freeze_time(at(2026, 1, 5)):
        links.link_incidents(p1, actor=actor, incidents=[x.pk, y.pk])
    p1 = move(p1, "investigate", at(2026, 1, 5, 10), actor)
    p1 = move(p1, "mark_known_error", at(2026, 1, 6), actor)
    ke1 = KnownError.objects.get(problem=p1)
    with freeze_time(at(2026, 1, 20)):
        uses.apply_workaround(ke1, x, actor=actor, resolve=True)
    with freeze_time(at(2026, 1, 21)):
        uses.apply_workaround(ke1, y, actor=actor, resolve=True)
    with freeze_time(at(2026, 1, 22)):
        incident_services.run_transition(y.pk, "reopen", actor=actor, payload={"reason": "Back again."})

    with freeze_time(at(2026, 1, 15, 12)):
        incident = IncidentFactory(service=s2)
    p2 = open_problem(at(2026, 1, 15, 12), actor, title="P2", service=s2, owner=oscar, source="proactive")
    with freeze_time(at(2026, 1, 15, 12)):
        links.link_incidents(p2, actor=actor, incidents=[incident.pk])
    p2 = move(p2, "investigate", at(2026, 1, 16), actor)

    p4 = open_problem(at(2026, 2, 1, 8), actor, title="P4", service=s2, owner=oscar)
    p4 = move(p4, "investigate", at(2026, 2, 1, 9), actor)
    p4 = move(p4, "mark_known_error", at(2026, 2, 1, 10), actor)
    p4 = move(p4, "resolve", at(2026, 2, 2, 8), actor)
    p4 = move(p4, "close", at(2026, 2, 5), actor)

    p3 = open_problem(at(2026, 2, 2), actor, title="P3", service=s2, owner=oscar, source="proactive")
    p3 = move(p3, "cancel", at(2026, 2, 4), actor)

    p1 = move(p1, "resolve", at(2026, 2, 3), actor)
    with freeze_time(at(2026, 2, 10)):
        later = bring_to(IncidentFactory(service=s1), "in_progress")
        links.link_incidents(p1, actor=actor, incidents=[later.pk])
    with freeze_time(at(2026, 2, 12)):
        uses.record_self_service_fix(ke1, actor=actor)
    return {"s1": s1, "s2": s2, "olga": olga, "oscar": oscar, "p1": p1}


def report(**query) -> list[dict]:
    with freeze_time(at(2026, 3, 1)):
        return get("problems").compute(parse(query, get("problems").group_bys))


JANUARY = {
    "period": "2026-01-01",
    "group": None,
    "group_key": None,
    "opened": 2,
    "proactive_opened": 1,
    "proactive_share": 0.5,
    "incidents_per_problem": 2.0,  # P1's 3 and P2's 1
    "max_incidents_per_problem": 3,
    "known_errors_reached": 1,
    "mean_time_to_known_error_seconds": 86400,
    "resolved": 0,
    "mean_time_to_resolution_seconds": None,
    "recurrences": 0,
    "problems_recurred": 0,
    "known_errors_published": 1,
    "known_errors_live": 2,  # P0's (retired on the 10th) and P1's
    "deflections": 1,  # X; Y's was taken back by the reopen
    "deflections_per_known_error": 0.5,
}
FEBRUARY = {
    "period": "2026-02-01",
    "group": None,
    "group_key": None,
    "opened": 2,
    "proactive_opened": 1,
    "proactive_share": 0.5,
    "incidents_per_problem": 0.0,
    "max_incidents_per_problem": 0,
    "known_errors_reached": 1,
    "mean_time_to_known_error_seconds": 7200,
    "resolved": 2,
    "mean_time_to_resolution_seconds": (29 * 86400 + 86400) // 2,
    "recurrences": 1,
    "problems_recurred": 1,
    "known_errors_published": 1,
    "known_errors_live": 2,  # P1's and P4's (published and retired in February)
    "deflections": 1,  # the self-service fix
    "deflections_per_known_error": 0.5,
}


def test_by_month():
    build_history()

    assert report(**{"from": "2026-01-01", "to": "2026-03-01", "interval": "month"}) == [JANUARY, FEBRUARY]


def test_known_errors_live_after_the_last_retirement():
    build_history()

    rows = report(**{"from": "2026-02-04", "to": "2026-02-07", "interval": "day"})

    # P4's known error is retired on the 5th: live on the 4th and the 5th, not on the 6th.
    assert [(r["period"], r["known_errors_live"]) for r in rows] == [
        ("2026-02-04", 2),
        ("2026-02-05", 2),
        ("2026-02-06", 1),
    ]


def test_by_week():
    build_history()

    rows = report(**{"from": "2026-01-05", "to": "2026-01-26", "interval": "week"})

    assert [
        (r["period"], r["opened"], r["known_errors_reached"], r["deflections"], r["known_errors_live"]) for r in rows
    ] == [
        ("2026-01-05", 1, 1, 0, 2),  # P0's retired on the 10th, P1's published on the 6th
        ("2026-01-12", 1, 0, 0, 1),
        ("2026-01-19", 0, 0, 1, 1),
    ]


def test_grouped_by_owner():
    history = build_history()

    rows = report(**{"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "group_by": "assignee"})

    assert [
        (r["period"], r["group"], r["group_key"], r["opened"], r["resolved"], r["known_errors_live"], r["deflections"])
        for r in rows
    ] == [
        ("2026-01-01", "olga", history["olga"].pk, 1, 0, 2, 1),
        ("2026-01-01", "oscar", history["oscar"].pk, 1, 0, 0, 0),
        ("2026-02-01", "olga", history["olga"].pk, 0, 1, 1, 1),
        ("2026-02-01", "oscar", history["oscar"].pk, 2, 1, 1, 0),
    ]


def test_grouped_by_service_and_priority():
    history = build_history()

    by_service = report(**{"from": "2026-02-01", "to": "2026-03-01", "interval": "month", "group_by": "service"})
    by_priority = report(**{"from": "2026-01-01", "to": "2026-02-01", "interval": "month", "group_by": "priority"})

    assert [(r["group_key"], r["opened"], r["recurrences"]) for r in by_service] == [
        (history["s1"].pk, 0, 1),
        (history["s2"].pk, 2, 0),
    ]
    assert [(r["group_key"], r["opened"]) for r in by_priority] == [(1, 1), (3, 1)]


def test_channel_is_not_a_grouping_of_problems():
    assert "channel" not in get("problems").group_bys


def test_a_bounded_number_of_queries(django_assert_max_num_queries):
    build_history()

    with django_assert_max_num_queries(9):
        report(**{"from": "2025-03-01", "to": "2027-03-01", "interval": "day", "group_by": "assignment_group"})
