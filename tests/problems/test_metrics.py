"""Problem metrics over a period, against a history whose answers are known."""

from datetime import UTC, datetime, timedelta

import pytest

from problems import events, links
from problems.metrics import problem_metrics
from problems.models import KnownError, KnownErrorUse, Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory, factory_actor
from tests.problems.factories import ProblemFactory, bring_to

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def stamp(problem: Problem, **times) -> None:
    Problem.objects.filter(pk=problem.pk).update(**times)


def recurrence(problem: Problem, when: datetime) -> None:
    event = events.recurrence(problem, factory_actor(), 0, "INC0000000")
    ProblemEvent.objects.filter(pk=event.pk).update(at=when)


def uses(known_error: KnownError, when: datetime, n: int, *, deflected: bool = True) -> None:
    KnownErrorUse.objects.bulk_create(
        [KnownErrorUse(known_error=known_error, at=when, deflected=deflected, kind="self_service") for _ in range(n)]
    )


@pytest.fixture
def history():
    actor = factory_actor()
    # P1: manual, opened in the period, three incidents, known error after 2 h, resolved after 24 h.
    p1 = ProblemFactory(title="P1")
    links.link_incidents(p1, actor=actor, incidents=[IncidentFactory().pk for _ in range(3)])
    p1 = bring_to(Problem.objects.get(pk=p1.pk), "resolved")
    stamp(p1, opened_at=at(2, 10), known_error_at=at(2, 12), resolved_at=at(3, 10))
    # P2: proactive, one incident, known error after 4 h, still open.
    p2 = ProblemFactory(title="P2", source="proactive", cluster_key="1:1", state="known_error")
    links.link_incidents(p2, actor=actor, incidents=[IncidentFactory().pk])
    stamp(p2, opened_at=at(10), known_error_at=at(10, 4))
    # P3: proactive, no incidents, cancelled as not a problem.
    p3 = ProblemFactory(title="P3", source="proactive", cluster_key="2:2", state="cancelled")
    stamp(p3, opened_at=at(15))
    # P4: opened before the period (not counted as opened), resolved in it after 16 days.
    p4 = ProblemFactory(title="P4", state="resolved")
    stamp(p4, opened_at=at(20, month=10), known_error_at=at(21, month=10), resolved_at=at(5))
    # Outside the period entirely.
    p5 = ProblemFactory(title="P5", state="known_error")
    stamp(p5, opened_at=at(2, month=12), known_error_at=at(2, 1, month=12))

    recurrence(p1, at(20))
    recurrence(p4, at(21))
    recurrence(p1, at(2, month=12))  # after the period

    ke1, ke2, ke4, ke5 = (KnownError.objects.get(problem=p) for p in (p1, p2, p4, p5))
    KnownError.objects.filter(pk__in=[ke1.pk, ke2.pk]).update(published_at=at(2))
    KnownError.objects.filter(pk=ke4.pk).update(published_at=at(21, month=10))
    KnownError.objects.filter(pk=ke5.pk).update(published_at=at(2, month=12))  # published after the period
    uses(ke1, at(4), 3)
    uses(ke1, at(4), 1, deflected=False)
    uses(ke1, at(3, month=12), 1)  # after the period
    uses(ke2, at(12), 1)
    return {"p1": p1, "p2": p2, "ke1": ke1, "ke2": ke2}


def test_the_metrics_of_a_known_history(history):
    m = problem_metrics(START, END)

    assert (m.problems_opened, m.proactive_opened) == (3, 2)
    assert m.proactive_share == pytest.approx(2 / 3)
    assert m.incidents_per_problem == pytest.approx(4 / 3) and m.max_incidents_per_problem == 3
    assert m.known_errors_reached == 2
    assert m.mean_time_to_known_error_seconds == pytest.approx(3 * 3600)
    assert m.resolved == 2
    assert m.mean_time_to_resolution_seconds == pytest.approx(timedelta(days=8.5).total_seconds())
    assert (m.recurrences, m.problems_recurred) == (2, 2)
    # Published in the period: KE1 and KE2; live at some point of it: those and KE4 (published before).
    assert (m.known_errors_published, m.known_errors_live, m.deflections) == (2, 3, 4)
    assert m.deflections_per_known_error == pytest.approx(4 / 3)
    assert [(row["number"], row["deflections"]) for row in m.top_deflecting] == [
        (history["p1"].number, 3),
        (history["p2"].number, 1),
    ]
    assert m.as_dict()["start"] == START.isoformat()


def test_an_empty_period_has_no_means():
    m = problem_metrics(START, END)

    assert m.problems_opened == 0 and m.proactive_share is None and m.incidents_per_problem is None
    assert m.mean_time_to_known_error_seconds is None and m.mean_time_to_resolution_seconds is None
    assert m.deflections_per_known_error is None and m.top_deflecting == []


def test_the_metrics_take_a_bounded_number_of_queries(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        problem_metrics(START, END)
