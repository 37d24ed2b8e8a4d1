"""The problem record's use cases: open, edit, the transition table and its conditions, links."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.models import Incident
from itsm.exceptions import Conflict, InvalidTransition
from problems import lifecycle, links
from problems.models import KnownError, Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db


def snapshot(problem):
    problem = Problem.objects.get(pk=problem.pk)
    return (problem.state, problem.version, ProblemEvent.objects.filter(problem=problem).count())


def test_open_gives_number_priority_and_timeline(agent, service):
    problem = lifecycle.open_problem(actor=agent, title="VPN drops", service=service, impact=1, urgency=1)
    assert problem.number == "PRB0000001"
    assert problem.priority == 1 and problem.state == "new" and problem.source == "manual"
    assert problem.assignment_group_id == service.owner_group_id
    assert list(problem.timeline.values_list("type", flat=True)) == ["created"]


@pytest.mark.parametrize(
    ("name", "state", "payload", "field"),
    [
        ("investigate", "new", {}, "owner"),
        ("mark_known_error", "investigating", {}, "root_cause"),
        ("resolve", "investigating", {}, "fix"),
        ("close", "resolved", {}, "lessons_learned"),
        ("cancel", "new", {}, "reason"),
        ("cancel", "new", {"reason": "  "}, "reason"),
    ],
)
def test_transition_without_its_field_is_400_naming_it(manager, name, state, payload, field):
    problem = ProblemFactory(state=state, owner=manager)
    if state == "resolved":
        Problem.objects.filter(pk=problem.pk).update(lessons_learned="")
    before = snapshot(problem)
    with pytest.raises(ValidationError) as exc:
        lifecycle.run_transition(problem, name, actor=manager, payload=payload)
    assert field in exc.value.message_dict
    assert snapshot(problem) == before


def test_a_field_set_by_patch_before_satisfies_the_transition(manager):
    problem = ProblemFactory(state="investigating", owner=manager)
    lifecycle.update_problem(problem, actor=manager, changes={"workaround": "Use the web client."})
    problem = lifecycle.run_transition(problem, "mark_known_error", actor=manager)
    assert problem.state == "known_error" and problem.known_error_at
    article = KnownError.objects.get(problem=problem)
    assert article.workaround == "Use the web client." and article.state == "published"


@pytest.mark.parametrize(
    ("state", "name"),
    [
        ("new", "resolve"),
        ("new", "close"),
        ("known_error", "investigate"),
        ("closed", "cancel"),
        ("cancelled", "investigate"),
    ],
)
def test_transition_from_the_wrong_state_is_409(manager, state, name):
    problem = ProblemFactory(state=state, owner=manager)
    before = snapshot(problem)
    with pytest.raises(InvalidTransition):
        lifecycle.run_transition(problem, name, actor=manager, payload={})
    assert snapshot(problem) == before


def test_agents_create_and_edit_but_do_not_transition(agent, manager):
    problem = lifecycle.open_problem(actor=agent, title="Printer queue stalls")
    lifecycle.update_problem(problem, actor=agent, changes={"root_cause": "Spooler leak."})
    with pytest.raises(PermissionDenied):
        lifecycle.run_transition(problem, "investigate", actor=agent, payload={"owner": manager.pk})


def test_owner_must_be_a_problem_manager(manager, agent):
    problem = ProblemFactory()
    with pytest.raises(ValidationError) as exc:
        lifecycle.run_transition(problem, "investigate", actor=manager, payload={"owner": agent.pk})
    assert "owner" in exc.value.message_dict


def test_close_retires_the_article(manager):
    problem = ProblemFactory(state="closed", owner=manager)
    assert problem.closed_at and KnownError.objects.get(problem=problem).state == "retired"


def test_rca_notes_are_validated_against_the_method(manager):
    problem = ProblemFactory()
    with pytest.raises(ValidationError) as exc:
        lifecycle.update_problem(problem, actor=manager, changes={"rca_method": "five_whys", "rca_notes": {"x": 1}})
    assert "rca_notes" in exc.value.message_dict
    whys = {"whys": [{"why": "Why did it fail?", "answer": "Pool exhausted."}, {"why": "Why?", "answer": "Leak."}]}
    problem = lifecycle.update_problem(problem, actor=manager, changes={"rca_method": "five_whys", "rca_notes": whys})
    assert problem.rca_notes == whys


def test_link_conflict_names_the_other_problem_and_move_moves(manager, service):
    incident = IncidentFactory(service=service)
    first = ProblemFactory()
    links.link_incidents(first, actor=manager, incidents=[incident.pk])
    second = ProblemFactory()
    with pytest.raises(Conflict) as exc:
        links.link_incidents(second, actor=manager, incidents=[incident.number])
    assert first.number in exc.value.detail
    assert Incident.objects.get(pk=incident.pk).problem_id == first.pk
    links.link_incidents(second, actor=manager, incidents=[incident.pk], move=True)
    assert Incident.objects.get(pk=incident.pk).problem_id == second.pk
    assert first.timeline.filter(type="unlinked").exists() and second.timeline.filter(type="linked").exists()
    assert incident.timeline.filter(type="linked", data__kind="problem").exists()


def test_an_incident_of_a_closed_problem_links_freely_and_counts_a_recurrence(manager):
    incident = IncidentFactory()
    closed = ProblemFactory(state="cancelled")
    links.link_incidents(ProblemFactory(), actor=manager, incidents=[incident.pk])
    resolved = ProblemFactory(state="resolved", owner=manager)
    other = IncidentFactory()
    links.link_incidents(resolved, actor=manager, incidents=[other.pk])
    assert Problem.objects.get(pk=resolved.pk).recurrence_count == 1
    assert resolved.timeline.filter(type="recurrence").exists()
    assert closed.state == "cancelled"


def test_resolve_linked_resolves_open_incidents_by_problem(manager):
    open_one, done = IncidentFactory(), IncidentFactory(state="resolved")
    problem = ProblemFactory(state="known_error", owner=manager)
    links.link_incidents(problem, actor=manager, incidents=[open_one.pk, done.pk])
    lifecycle.run_transition(problem, "resolve", actor=manager, payload={"fix": "Patched.", "resolve_linked": True})
    open_one.refresh_from_db()
    assert open_one.state == "resolved" and open_one.resolution_code == "resolved_by_problem"
    assert open_one.timeline.filter(type="transition", data__name="resolve").count() == 1


def test_cancel_as_duplicate_moves_links_to_the_survivor(manager):
    incident = IncidentFactory()
    duplicate, survivor = ProblemFactory(), ProblemFactory()
    links.link_incidents(duplicate, actor=manager, incidents=[incident.pk])
    lifecycle.run_transition(
        duplicate, "cancel", actor=manager, payload={"reason": "Same as the other.", "duplicate_of": survivor.pk}
    )
    assert Incident.objects.get(pk=incident.pk).problem_id == survivor.pk
    assert Problem.objects.get(pk=duplicate.pk).duplicate_of_id == survivor.pk


@pytest.mark.parametrize("target", ["self", "closed"])
def test_duplicate_of_itself_or_a_closed_problem_is_400(manager, target):
    problem = ProblemFactory()
    other = problem if target == "self" else ProblemFactory(state="closed", owner=manager)
    before = snapshot(problem)
    with pytest.raises(ValidationError) as exc:
        lifecycle.run_transition(problem, "cancel", actor=manager, payload={"reason": "dup", "duplicate_of": other.pk})
    assert "duplicate_of" in exc.value.message_dict and snapshot(problem) == before


def test_raise_problem_copies_the_incident(agent, service):
    incident = IncidentFactory(service=service, description="Mail is slow.")
    problem = lifecycle.raise_problem(actor=agent, incidents=[incident.pk])
    assert problem.source == "reactive" and problem.service == service and problem.description == "Mail is slow."
    assert Incident.objects.get(pk=incident.pk).problem_id == problem.pk
