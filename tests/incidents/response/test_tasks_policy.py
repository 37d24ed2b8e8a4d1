"""Who may see, add, change and move tasks (`incidents.response.policy`), and the 403s the use
cases raise from it with their reason; nothing is written on a refusal."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from incidents.response import policy, worktasks
from incidents.response.models import Task
from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.incidents.response.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, group):
    return IncidentFactory(assignment_group=group)


def test_the_system_may_do_everything(incident):
    task = TaskFactory(incident=incident)
    assert policy.can_add_task(None, incident)
    assert policy.can_change_task(None, task)
    assert policy.can_transition_task(None, task, "start")


def test_incident_tasks_follow_the_incident(agent, outsider, reader, mim, incident):
    task = TaskFactory(incident=incident)
    for user in (agent, mim):
        assert policy.can_add_task(user, incident)
        assert policy.can_change_task(user, task)
        assert policy.can_transition_task(user, task, "complete")
    for user in (outsider, reader):
        assert not policy.can_add_task(user, incident)
        assert not policy.can_change_task(user, task)
        assert not policy.can_transition_task(user, task, "complete")
    assert policy.can_view_tasks(reader, incident)
    assert not policy.can_view_tasks(AnonymousUser(), incident)


def test_a_closed_incident_takes_no_new_task(agent, group):
    closed = IncidentFactory(assignment_group=group, state="closed")
    decision = policy.can_add_task(agent, closed)
    assert not decision and "closed" in decision.reason


def test_major_incident_tasks(mim, make_user, group):
    lead = make_user(roles.SERVICE_DESK_AGENT)
    mi = MajorIncidentFactory(tech_lead=lead)
    assignee = make_user(roles.RESOLVER)
    member = make_user(roles.RESOLVER, groups=[group])
    stranger = make_user(roles.RESOLVER)
    mine = TaskFactory(major_incident=mi, assignee=assignee)
    groups = TaskFactory(major_incident=mi, assignment_group=group)
    assert policy.can_add_task(mim, mi) and policy.can_add_task(lead, mi)
    assert not policy.can_add_task(assignee, mi)
    assert policy.can_transition_task(assignee, mine, "start")
    assert not policy.can_change_task(assignee, mine)
    assert policy.can_transition_task(member, groups, "complete")
    assert not policy.can_transition_task(member, mine, "complete")
    decision = policy.can_transition_task(stranger, mine, "cancel")
    assert not decision and mi.number in decision.reason and "cancel" in decision.reason


@pytest.mark.parametrize("name", ["start", "complete", "cancel"])
def test_refused_transitions_are_403_and_write_nothing(outsider, incident, name):
    task = TaskFactory(incident=incident)
    with pytest.raises(PermissionDenied, match=incident.number):
        worktasks.run_task_transition(task, name, actor=outsider)
    task.refresh_from_db()
    assert task.state == "open" and task.version == 1


def test_refused_update_is_403(outsider, incident):
    task = TaskFactory(incident=incident, title="Keep")
    with pytest.raises(PermissionDenied):
        worktasks.update_task(task, actor=outsider, changes={"title": "Changed"})
    assert Task.objects.get(pk=task.pk).title == "Keep"


def test_refused_create_on_a_major_incident_is_403(make_user):
    mi = MajorIncidentFactory()
    with pytest.raises(PermissionDenied, match=mi.number):
        worktasks.create_task(actor=make_user(roles.SERVICE_DESK_AGENT), record=mi, title="x")
    assert not Task.objects.exists()
