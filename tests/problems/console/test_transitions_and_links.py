"""The problem page's buttons: each transition (success, and a refusal naming the field with
nothing written), linking by number, unlinking, moving with a confirm, major incidents."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents.choices import IncidentState
from incidents.models import Incident
from problems import links
from problems.choices import ProblemState
from problems.models import KnownError, Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

S = ProblemState


def turl(problem: Problem, name: str) -> str:
    return reverse(f"admin:problems_problem_transition_{name}", args=[problem.pk])


def change_url(problem: Problem) -> str:
    return reverse("admin:problems_problem_change", args=[problem.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def snapshot(problem: Problem) -> tuple:
    problem.refresh_from_db()
    return problem.state, problem.version, ProblemEvent.objects.filter(problem=problem).count()


@pytest.fixture
def investigating(manager, service):
    return ProblemFactory(actor=manager, service=service, state="investigating", owner=manager)


# --- transitions -----------------------------------------------------------------------------------
def test_investigate_with_an_owner(console, manager, problem):
    assert console.get(turl(problem, "investigate")).status_code == 200
    response = console.post(turl(problem, "investigate"), {"owner": manager.pk, "version": problem.version})
    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.state == S.INVESTIGATING and problem.owner == manager
    assert any("now Investigating" in t for t in texts(response))


def test_investigate_without_an_owner_is_refused_naming_it(console, problem):
    before = snapshot(problem)
    response = console.post(turl(problem, "investigate"), {"version": problem.version})
    assert response.status_code == 200
    assert "Owner" in " ".join(texts(response))
    assert snapshot(problem) == before


def test_mark_known_error_publishes_the_article(console, investigating):
    response = console.post(
        turl(investigating, "mark_known_error"),
        {"root_cause": "Session table full.", "workaround": "Reconnect.", "version": investigating.version},
    )
    assert response.status_code == 302
    investigating.refresh_from_db()
    assert investigating.state == S.KNOWN_ERROR
    assert KnownError.objects.get(problem=investigating).workaround == "Reconnect."


def test_mark_known_error_without_cause_or_workaround_is_refused(console, investigating):
    before = snapshot(investigating)
    response = console.post(turl(investigating, "mark_known_error"), {"version": investigating.version})
    assert response.status_code == 200
    assert "root cause or a workaround" in response.content.decode()
    assert snapshot(investigating) == before
    assert not KnownError.objects.filter(problem=investigating).exists()


def test_resolve_with_resolve_linked(console, manager, agent, service, investigating):
    incident = IncidentFactory(actor=agent, service=service)
    links.link_incidents(investigating, actor=manager, incidents=[incident])
    investigating.refresh_from_db()
    response = console.post(
        turl(investigating, "resolve"),
        {"fix": "Firmware 2.1", "fix_reference": "CHG1", "resolve_linked": "on", "version": investigating.version},
    )
    assert response.status_code == 302, texts(response)
    investigating.refresh_from_db()
    incident.refresh_from_db()
    assert investigating.state == S.RESOLVED and investigating.fix_reference == "CHG1"
    assert incident.state == IncidentState.RESOLVED and incident.resolution_code == "resolved_by_problem"


def test_resolve_without_a_fix_is_refused(console, investigating):
    before = snapshot(investigating)
    response = console.post(turl(investigating, "resolve"), {"version": investigating.version})
    assert response.status_code == 200
    assert "Fix" in " ".join(texts(response))
    assert snapshot(investigating) == before


def test_close_with_lessons_learned_and_refused_without(console, manager, service):
    problem = ProblemFactory(actor=manager, service=service, state="resolved", owner=manager)
    before = snapshot(problem)
    response = console.post(turl(problem, "close"), {"version": problem.version})
    assert "Lessons learned" in " ".join(texts(response))
    assert snapshot(problem) == before
    response = console.post(turl(problem, "close"), {"lessons_learned": "Watch it.", "version": problem.version})
    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.state == S.CLOSED


def test_cancel_as_duplicate_moves_the_links(console, manager, agent, service, problem):
    survivor = ProblemFactory(actor=manager, service=service)
    incident = IncidentFactory(actor=agent, service=service)
    links.link_incidents(problem, actor=manager, incidents=[incident])
    problem.refresh_from_db()
    response = console.post(
        turl(problem, "cancel"), {"reason": "Duplicate.", "duplicate_of": survivor.number, "version": problem.version}
    )
    assert response.status_code == 302, texts(response)
    problem.refresh_from_db()
    incident.refresh_from_db()
    assert problem.state == S.CANCELLED and problem.duplicate_of == survivor
    assert incident.problem_id == survivor.pk


def test_cancel_refusals_name_the_fields(console, problem):
    before = snapshot(problem)
    response = console.post(turl(problem, "cancel"), {"duplicate_of": problem.number, "version": problem.version})
    text = " ".join(texts(response))
    assert "Reason" in text and "Duplicate of" in text
    assert snapshot(problem) == before


def test_a_transition_not_allowed_now_is_a_message(console, problem):
    response = console.post(turl(problem, "close"), {"lessons_learned": "x", "version": problem.version})
    assert response.status_code == 302
    assert texts(response)
    problem.refresh_from_db()
    assert problem.state == S.NEW


def test_a_stale_transition_is_a_message_and_nothing_written(console, manager, problem):
    version = problem.version
    from problems import lifecycle

    lifecycle.update_problem(problem, actor=manager, changes={"title": "Moved on"})
    before = snapshot(problem)
    response = console.post(turl(problem, "investigate"), {"owner": manager.pk, "version": version})
    assert response.status_code == 302
    assert any("changed since you read it" in t for t in texts(response))
    assert snapshot(problem) == before


# --- links -----------------------------------------------------------------------------------------
def test_link_by_number_and_unlink(console, problem, incident):
    response = console.post(
        reverse("admin:problems_problem_link", args=[problem.pk]), {"link-numbers": incident.number}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.problem_id == problem.pk
    html = console.get(change_url(problem)).content.decode()
    assert f'id="linked-{incident.pk}"' in html
    response = console.post(reverse("admin:problems_problem_unlink", args=[problem.pk, incident.pk]))
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.problem_id is None
    # unlinking again: a message, not a 404 page
    response = console.post(reverse("admin:problems_problem_unlink", args=[problem.pk, incident.pk]))
    assert response.status_code == 302
    assert any("is not linked" in t for t in texts(response))


def test_link_unknown_numbers_is_a_message(console, problem):
    response = console.post(reverse("admin:problems_problem_link", args=[problem.pk]), {"link-numbers": "INC9999999"})
    assert response.status_code == 302
    assert any("No such incident" in t for t in texts(response))


def test_moving_an_incident_held_elsewhere_asks_first(console, manager, service, problem, incident):
    other = ProblemFactory(actor=manager, service=service)
    links.link_incidents(other, actor=manager, incidents=[incident])
    url = reverse("admin:problems_problem_link", args=[problem.pk])
    response = console.post(url, {"link-numbers": incident.number})
    assert response.status_code == 200
    html = response.content.decode()
    assert other.number in html and 'name="link-move"' in html
    incident.refresh_from_db()
    assert incident.problem_id == other.pk  # nothing moved yet
    response = console.post(url, {"link-numbers": incident.number, "link-move": "on"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.problem_id == problem.pk


def test_link_and_unlink_major_incidents(console, problem, incident, make_user):
    from incidents.major import lifecycle as major_lifecycle
    from itsm import roles

    mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    mi = major_lifecycle.propose(actor=mim, incident=incident, declare=True, reason="Everyone is down")
    response = console.post(
        reverse("admin:problems_problem_link_major", args=[problem.pk]), {"major-numbers": mi.number}
    )
    assert response.status_code == 302, texts(response)
    mi.refresh_from_db()
    assert mi.problem_id == problem.pk
    assert f'id="major-{mi.pk}"' in console.get(change_url(problem)).content.decode()
    console.post(reverse("admin:problems_problem_unlink_major", args=[problem.pk, mi.pk]))
    mi.refresh_from_db()
    assert mi.problem_id is None


def test_read_only_cannot_link(reader_console, problem, incident):
    response = reader_console.post(
        reverse("admin:problems_problem_link", args=[problem.pk]), {"link-numbers": incident.number}
    )
    assert response.status_code in (302, 403)
    assert Incident.objects.get(pk=incident.pk).problem_id is None
