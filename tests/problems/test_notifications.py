"""Problem notifications: every event registered with templates and a complete sample, and the
default rules reach who they should (Problem Managers, the group, the owner, watchers, the
assignees of linked open incidents)."""

import pytest

from communications import registry, rendering
from communications.models import InstalledDefaultRule, Notification, NotificationRule
from itsm import roles
from problems import lifecycle, links, registrations
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory, bring_to

pytestmark = pytest.mark.django_db

EVENTS = list(registrations.EVENT_TYPES)


def told(event: str, problem) -> set[str]:
    return set(Notification.objects.filter(event=event, subject_id=problem.pk).values_list("recipient", flat=True))


@pytest.fixture
def people(make_user):
    group = AssignmentGroupFactory(name="Network Team")
    service = ServiceFactory(owner_group=group)
    return {
        "group": group,
        "service": service,
        "pm": make_user(roles.PROBLEM_MANAGER, email="pm@example.com"),
        "owner": make_user(roles.PROBLEM_MANAGER, email="owner@example.com"),
        "actor": make_user(roles.PROBLEM_MANAGER, email="actor@example.com"),
        "watcher": make_user(roles.RESOLVER, email="watcher@example.com"),
        "resolver": make_user(roles.RESOLVER, email="resolver@example.com", groups=[group]),
    }


def test_all_six_events_are_registered_with_their_own_templates():
    assert set(EVENTS) == {
        "problem.created",
        "problem.known_error",
        "problem.workaround_changed",
        "problem.resolved",
        "problem.closed",
        "problem.recurrence",
    }
    assert all(registry.is_registered(e) for e in EVENTS)


@pytest.mark.parametrize("event", EVENTS)
def test_each_event_renders_its_own_email_against_the_sample(event, caplog):
    message = rendering.preview(event, "email")

    assert message.subject.startswith("[PRB0000042]") and "\n" not in message.subject
    assert "PRB0000042" in message.text and message.html.startswith("<!doctype html>")
    assert "Open it: https://itsm.example.com/" in message.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_the_templates_say_what_happened():
    assert "Trend detection" not in rendering.preview("problem.created", "email").text
    assert "Workaround available" in rendering.preview("problem.workaround_changed", "email").subject
    assert "INC0000321" in rendering.preview("problem.recurrence", "email").text
    assert "Lessons learned: Alert at 80 %" in rendering.preview("problem.closed", "email").text
    assert "CHG0004711" in rendering.preview("problem.resolved", "email").text


def test_a_proactive_problem_says_so(people):
    from problems import trends  # noqa: F401  (the source is all the template needs)

    context = rendering.sample_context("problem.created")
    context["problem"]["source"] = "proactive"
    message = rendering.render("problem.created", "email", context)

    assert "proactive" in message.subject and "Trend detection" in message.text


def test_the_default_rules_are_installed_after_migrate():
    names = set(registrations.DEFAULT_RULES)

    assert names <= set(InstalledDefaultRule.objects.values_list("name", flat=True))
    assert names <= set(NotificationRule.objects.values_list("name", flat=True))
    created = NotificationRule.objects.get(name="Problem created or recurring: tell the Problem Managers")
    assert created.roles == [roles.PROBLEM_MANAGER] and created.events == ["problem.created", "problem.recurrence"]


def test_a_new_problem_tells_the_problem_managers_not_the_actor(people):
    problem = ProblemFactory(actor=people["actor"], title="Printers jam")

    assert {"pm@example.com", "owner@example.com"} <= told("problem.created", problem)
    assert "actor@example.com" not in told("problem.created", problem)


def test_known_error_resolved_and_closed_reach_the_group_the_owner_and_the_watchers(people):
    problem = ProblemFactory(actor=people["actor"], title="VPN drops", service=people["service"])
    problem.watchers.add(people["watcher"])
    expected = {people["group"].email, "owner@example.com", "watcher@example.com"}

    problem = bring_to(problem, "known_error", actor=people["actor"], owner=people["owner"])
    assert expected <= told("problem.known_error", problem)
    problem = lifecycle.run_transition(problem, "resolve", actor=people["actor"], payload={"fix": "Patched."})
    assert expected <= told("problem.resolved", problem)
    problem = lifecycle.run_transition(problem, "close", actor=people["actor"], payload={"lessons_learned": "Alert."})

    assert expected <= told("problem.closed", problem)
    assert "pm@example.com" not in told("problem.closed", problem)


def test_a_workaround_reaches_the_assignees_of_linked_open_incidents_and_the_watchers(people):
    problem = ProblemFactory(
        actor=people["actor"],
        title="VPN drops",
        service=people["service"],
        state="investigating",
        owner=people["owner"],
    )
    problem.watchers.add(people["watcher"])
    incident = IncidentFactory(service=people["service"], assignee=people["resolver"])
    links.link_incidents(problem, actor=people["actor"], incidents=[incident.pk])

    lifecycle.update_problem(problem, actor=people["actor"], changes={"workaround": "Reconnect twice."})

    assert {"resolver@example.com", "watcher@example.com"} <= told("problem.workaround_changed", problem)
    assert "pm@example.com" not in told("problem.workaround_changed", problem)


def test_a_recurrence_tells_the_problem_managers(people):
    problem = ProblemFactory(actor=people["actor"], title="VPN drops", state="resolved", owner=people["owner"])

    links.link_incidents(problem, actor=people["actor"], incidents=[IncidentFactory().pk])

    assert {"pm@example.com", "owner@example.com"} <= told("problem.recurrence", problem)
