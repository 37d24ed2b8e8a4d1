"""The major incident hand-off: `major_incident.closed` opens (or joins) a problem, exactly once."""

import pytest

from incidents.major import lifecycle as major_lifecycle
from incidents.major import links as major_links
from incidents.major.models import MajorIncident, PostIncidentReview
from incidents.models import Incident
from itsm import events as domain_events
from itsm import roles
from itsm.models import DomainEvent
from problems import handoff, links
from problems.models import Problem, ProblemEvent
from tests.factories import CategoryFactory
from tests.incidents.factories import IncidentFactory, factory_actor
from tests.incidents.major.factories import MajorIncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mim(make_user):
    return make_user(roles.MAJOR_INCIDENT_MANAGER)


@pytest.fixture
def closed(mim, service, django_capture_on_commit_callbacks):
    """A major incident closed through its lifecycle (the hand-off runs after commit), with two reports."""
    category = CategoryFactory(name="Payments")
    primary = IncidentFactory(title="Payments down", service=service, category=category, impact=1, urgency=1)
    mi = MajorIncidentFactory(incident=primary, state="resolved", title="Payments down for everyone")
    reports = [IncidentFactory(service=service, title=f"Cannot pay {i}") for i in range(2)]
    major_links.link_incidents(mi, actor=mim, incidents=reports)
    major_lifecycle.run_transition(mi, "start_review", actor=mim)
    PostIncidentReview.objects.filter(major_incident=mi).update(
        summary="Card payments failed for 40 minutes.",
        root_cause="An expired certificate on the payment proxy.",
        lessons_learned="Monitor certificate expiry.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        mi = major_lifecycle.run_transition(mi, "close", actor=mim)
    return {"mi": mi, "primary": primary, "reports": reports, "category": category}


def event_of(mi) -> DomainEvent:
    return DomainEvent.objects.get(name="major_incident.closed", payload__id=mi.pk)


def test_closing_a_major_incident_opens_a_reactive_problem_with_the_review(closed, service):
    mi, primary, reports = closed["mi"], closed["primary"], closed["reports"]

    problem = Problem.objects.get(source_major_incident=mi)
    assert event_of(mi).dispatched_at is not None and event_of(mi).last_error == ""
    assert (problem.source, problem.state, problem.title) == ("reactive", "new", "Payments down for everyone")
    assert problem.description == "Card payments failed for 40 minutes."
    assert problem.root_cause == "An expired certificate on the payment proxy."
    assert problem.lessons_learned == "Monitor certificate expiry."
    assert (problem.service, problem.category, problem.impact, problem.urgency) == (
        service,
        closed["category"],
        1,
        1,
    )
    assert MajorIncident.objects.get(pk=mi.pk).problem == problem
    linked = set(Incident.objects.filter(problem=problem).values_list("pk", flat=True))
    assert linked == {primary.pk, *(r.pk for r in reports)}
    assert problem.created_by.username == "system"


def test_the_handler_called_twice_changes_nothing_the_second_time(closed):
    mi = closed["mi"]
    event = event_of(mi)
    before = (Problem.objects.count(), ProblemEvent.objects.count(), MajorIncident.objects.get(pk=mi.pk).problem_id)

    again = handoff.hand_off(event.payload)
    handoff.on_major_incident_closed(event)

    assert again.duplicate and again.problem.source_major_incident_id == mi.pk
    assert (
        Problem.objects.count(),
        ProblemEvent.objects.count(),
        MajorIncident.objects.get(pk=mi.pk).problem_id,
    ) == before


def test_dispatching_the_same_event_twice_runs_it_once(closed):
    event = event_of(closed["mi"])

    assert domain_events.dispatch(event.pk) is False  # already dispatched: the row says so
    assert Problem.objects.filter(source_major_incident=closed["mi"]).count() == 1


def test_a_duplicate_event_row_delivered_again_opens_no_second_problem(closed, django_capture_on_commit_callbacks):
    event = event_of(closed["mi"])
    count = ProblemEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        duplicate = domain_events.publish(event.name, event.payload)
    duplicate.refresh_from_db()

    assert duplicate.dispatched_at is not None and duplicate.last_error == ""
    assert Problem.objects.filter(source_major_incident=closed["mi"]).count() == 1
    assert ProblemEvent.objects.count() == count


def test_the_first_delivery_by_dispatch_and_a_second_gives_one_problem(service):
    mi = MajorIncidentFactory(state="closed", incident=IncidentFactory(service=service))
    payload = {"id": mi.pk, "number": mi.number, "title": mi.title, "summary": "S", "root_cause": "R"}
    payload |= {"lessons_learned": "L", "incident": mi.incident_id, "incidents": [mi.incident_id]}
    first = DomainEvent.objects.create(name="major_incident.closed", payload=payload)
    second = DomainEvent.objects.create(name="major_incident.closed", payload=payload)

    assert domain_events.dispatch(first.pk) and domain_events.dispatch(second.pk)
    assert domain_events.dispatch(first.pk) is False

    assert Problem.objects.filter(source_major_incident=mi).count() == 1


def test_the_primary_incidents_open_problem_receives_the_major_incident_instead(service, mim):
    primary = IncidentFactory(service=service, impact=1, urgency=1)
    existing = ProblemFactory(title="Payment proxy flaps", state="investigating")
    links.link_incidents(existing, actor=factory_actor(), incidents=[primary.pk])
    mi = MajorIncidentFactory(incident=primary, state="closed")
    report = IncidentFactory(service=service)
    payload = {"id": mi.pk, "title": mi.title, "summary": "S", "root_cause": "R", "lessons_learned": "L"}

    result = handoff.hand_off({**payload, "incident": primary.pk, "incidents": [primary.pk, report.pk]})

    assert result.problem == existing and not result.opened
    assert Problem.objects.count() == 1
    assert MajorIncident.objects.get(pk=mi.pk).problem == existing
    assert Incident.objects.get(pk=report.pk).problem == existing
    existing.refresh_from_db()
    assert existing.root_cause == ""  # the existing investigation keeps its own fields
    assert handoff.hand_off({**payload, "incident": primary.pk, "incidents": [primary.pk]}).duplicate


def test_incidents_another_open_problem_holds_are_skipped_and_named(service):
    primary = IncidentFactory(service=service)
    held = IncidentFactory(service=service)
    other = ProblemFactory(title="Other problem")
    links.link_incidents(other, actor=factory_actor(), incidents=[held.pk])
    mi = MajorIncidentFactory(incident=primary, state="closed")

    result = handoff.hand_off(
        {"id": mi.pk, "title": "T", "summary": "Sum.", "incident": primary.pk, "incidents": [primary.pk, held.pk]}
    )

    assert result.opened and result.skipped == [f"{held.number} ({other.number})"]
    assert Incident.objects.get(pk=held.pk).problem == other
    assert Incident.objects.get(pk=primary.pk).problem == result.problem
    assert f"{held.number} ({other.number})" in result.problem.description


def test_an_event_for_a_vanished_major_incident_does_nothing():
    assert handoff.hand_off({"id": 999999}).problem is None
    assert Problem.objects.count() == 0


def test_the_handoff_is_subscribed():
    from itsm.events import _subscribers

    assert handoff.on_major_incident_closed in _subscribers["major_incident.closed"]
