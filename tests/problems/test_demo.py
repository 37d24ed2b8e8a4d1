"""`make run`'s problem demo: every state, RCA, linked incidents, a published known error suggested
on a new incident, problem tasks (one overdue) and a proactive problem; twice gives the same."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Count

from incidents.models import Incident
from incidents.response.models import Task
from problems import demo, kedb
from problems.choices import ProblemState
from problems.models import KnownError, Problem

pytestmark = pytest.mark.django_db


def _snapshot() -> tuple:
    return (
        Problem.objects.count(),
        Incident.objects.count(),
        Task.objects.filter(problem__isnull=False).count(),
        KnownError.objects.count(),
    )


@pytest.fixture
def seeded(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    first = _snapshot()
    call_command("seed_demo", stdout=io.StringIO())  # idempotent: nothing twice
    assert _snapshot() == first
    return first


def test_every_state_with_linked_incidents_and_rca(seeded):
    titles = [scenario.title for scenario in demo.SCENARIOS]
    problems = {p.title: p for p in Problem.objects.filter(title__in=titles)}
    assert len(problems) == len(titles)
    assert {p.state for p in problems.values()} == set(ProblemState.values)
    assert not Problem.objects.values("title").annotate(n=Count("id")).filter(n__gt=1).exists()
    for problem in problems.values():
        if problem.state != ProblemState.CANCELLED:
            assert problem.incidents.exists(), problem.title
    methods = {p.rca_method: p for p in problems.values() if p.rca_method}
    assert len(methods["five_whys"].rca_notes["whys"]) == 5
    assert "technology" in methods["fishbone"].rca_notes["causes"]
    closed = problems[demo.closed_problem.title]
    assert closed.opened_at < closed.investigating_at < closed.known_error_at < closed.resolved_at < closed.closed_at
    assert (closed.closed_at - closed.opened_at).days >= 30  # backdated: the ages look like real work
    resolved = problems[demo.resolved_problem.title]
    assert {i.resolution_code for i in resolved.incidents.all()} == {"resolved_by_problem"}


def test_the_published_known_error_is_suggested_on_the_new_incident(seeded):
    article = KnownError.objects.get(problem__title=demo.KNOWN_ERROR_TITLE)
    assert article.state == "published" and article.workaround
    incident = Incident.objects.get(title=demo.SUGGESTED_INCIDENT)
    assert incident.problem_id is None and incident.state == "new"
    suggested = kedb.suggestions(incident)
    assert suggested and suggested[0] == article


def test_problem_tasks_and_the_proactive_problem(seeded):
    tasks = Task.objects.filter(problem__isnull=False)
    assert {t.kind for t in tasks} == {"rca", "general"}
    assert [t.title for t in tasks if t.is_overdue] == ["Export the firewall tunnel logs for the last seven days"]
    proactive = Problem.objects.get(title=demo.PROACTIVE_TITLE)
    assert (
        proactive.source == "proactive" and proactive.cluster_key == f"{proactive.service_id}:{proactive.category_id}"
    )
    assert proactive.incidents.count() >= 5
    assert {(i.service_id, i.category_id) for i in proactive.incidents.all()} == {
        (proactive.service_id, proactive.category_id)
    }
