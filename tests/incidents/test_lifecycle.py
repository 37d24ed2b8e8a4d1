"""The incident state machine and its services: transition matrix, timeline, validation."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incidents import services
from incidents.choices import IncidentState
from incidents.models import Comment, Incident, IncidentSettings, TimelineEvent
from itsm import roles
from itsm.exceptions import InvalidTransition, StaleRecord
from itsm.models import PriorityMatrixEntry
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db

S = IncidentState
PAYLOADS = {
    "start": {},
    "hold": {"hold_reason": "awaiting_caller"},
    "resume": {},
    "resolve": {"resolution_code": "fixed", "resolution_notes": "Restarted the VPN concentrator."},
    "reopen": {"reason": "It is broken again."},
    "close": {},
    "cancel": {"reason": "Logged twice."},
}
# DOMAIN.md section 2: transition -> (sources, target)
TABLE = {
    "start": ([S.NEW], S.IN_PROGRESS),
    "hold": ([S.IN_PROGRESS], S.ON_HOLD),
    "resume": ([S.ON_HOLD], S.IN_PROGRESS),
    "resolve": ([S.NEW, S.IN_PROGRESS, S.ON_HOLD], S.RESOLVED),
    "reopen": ([S.RESOLVED], S.IN_PROGRESS),
    "close": ([S.RESOLVED], S.CLOSED),
    "cancel": ([S.NEW, S.IN_PROGRESS, S.ON_HOLD], S.CANCELLED),
}
PATH_TO = {
    S.NEW: [],
    S.IN_PROGRESS: ["start"],
    S.ON_HOLD: ["start", "hold"],
    S.RESOLVED: ["start", "resolve"],
    S.CLOSED: ["start", "resolve", "close"],
    S.CANCELLED: ["cancel"],
}


@pytest.fixture
def team(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Service Desk", members=[agent])
    return group, agent


@pytest.fixture
def new_incident(team, django_capture_on_commit_callbacks):
    group, agent = team
    service = ServiceFactory(slug="vpn", owner_group=group)
    return services.open_incident(
        actor=agent, title="VPN down", description="Nobody can connect", impact=2, urgency=1, service=service
    )


def bring_to(incident: Incident, state: str, actor) -> Incident:
    for name in PATH_TO[state]:
        incident = services.run_transition(incident, name, actor=actor, payload=PAYLOADS[name])
    return incident


def test_open_incident_numbers_routes_and_derives_priority(new_incident, team):
    group, agent = team
    assert new_incident.number.startswith("INC") and len(new_incident.number) == 10
    assert new_incident.state == S.NEW
    assert new_incident.priority == 2  # impact 2 x urgency 1 -> P2 (ITIL matrix)
    assert new_incident.assignment_group == group  # routed to the service's owner group
    types = list(new_incident.timeline.values_list("type", flat=True))
    assert types[:2] == ["created", "assigned"]


def test_numbers_are_sequential_and_unique(team):
    group, agent = team
    numbers = [services.open_incident(actor=agent, title=f"t{i}").number for i in range(3)]
    values = [int(n[3:]) for n in numbers]
    assert values == sorted(values) and len(set(values)) == 3


@pytest.mark.parametrize("state", list(PATH_TO))
@pytest.mark.parametrize("name", list(TABLE))
def test_transition_matrix(new_incident, team, state, name):
    group, agent = team
    incident = bring_to(new_incident, state, agent)
    sources, target = TABLE[name]
    events_before = TimelineEvent.objects.filter(incident=incident).count()
    version_before = incident.version
    if state in sources:
        incident = services.run_transition(incident, name, actor=agent, payload=PAYLOADS[name])
        assert incident.state == target
        last = incident.timeline.filter(type="transition").last()
        assert last.data == {"name": name, "from": state, "to": target}
        assert incident.version > version_before
    else:
        with pytest.raises(InvalidTransition) as caught:
            services.run_transition(incident, name, actor=agent, payload=PAYLOADS[name])
        assert caught.value.current_state == state
        assert name not in caught.value.available
        incident.refresh_from_db()
        assert incident.state == state  # nothing changed
        assert incident.version == version_before
        assert TimelineEvent.objects.filter(incident=incident).count() == events_before


@pytest.mark.parametrize(
    "name, payload, fields",
    [
        ("hold", {}, {"hold_reason"}),
        ("hold", {"hold_reason": "lunch"}, {"hold_reason"}),
        ("resolve", {}, {"resolution_code", "resolution_notes"}),
        ("resolve", {"resolution_code": "fixed", "resolution_notes": "  "}, {"resolution_notes"}),
        ("resolve", {"resolution_code": "magic", "resolution_notes": "x"}, {"resolution_code"}),
        ("cancel", {}, {"reason"}),
        ("resume", {"reason": "x"}, {"reason"}),
    ],
)
def test_missing_or_bad_transition_fields_are_named_and_change_nothing(new_incident, team, name, payload, fields):
    group, agent = team
    incident = bring_to(new_incident, S.ON_HOLD if name == "resume" else S.IN_PROGRESS, agent)
    before = (incident.state, incident.version, incident.timeline.count())
    with pytest.raises(ValidationError) as caught:
        services.run_transition(incident, name, actor=agent, payload=payload)
    assert set(caught.value.message_dict) == fields
    incident.refresh_from_db()
    assert (incident.state, incident.version, incident.timeline.count()) == before


def test_start_requires_a_group_and_assigns_the_acting_member(team):
    group, agent = team
    incident = services.open_incident(actor=agent, title="No group")
    with pytest.raises(ValidationError) as caught:
        services.start(incident, actor=agent)
    assert "assignment_group" in caught.value.message_dict
    incident = services.start(incident, actor=agent, assignment_group=group)
    assert incident.state == S.IN_PROGRESS
    assert incident.assignee == agent
    assert incident.responded_at is not None


def test_resolve_sets_fields_and_reopen_clears_them(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.RESOLVED, agent)
    assert incident.resolved_at and incident.resolution_code == "fixed"
    incident = services.reopen(incident, actor=agent, reason="Still broken")
    assert incident.state == S.IN_PROGRESS and incident.reopen_count == 1
    assert incident.resolution_code == "" and incident.resolved_at is None
    comment = Comment.objects.get(incident=incident)
    assert comment.body == "Still broken" and comment.visibility == "public"


def test_reopen_window(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.RESOLVED, agent)
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(days=8))
    with pytest.raises(InvalidTransition) as caught:
        services.reopen(incident, actor=agent, reason="late")
    assert "reopen window" in str(caught.value)
    settings = IncidentSettings.current()
    settings.reopen_window_days = 10
    settings.save()
    assert services.reopen(incident, actor=agent, reason="ok now").state == S.IN_PROGRESS


def test_hold_and_resume(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.ON_HOLD, agent)
    assert incident.hold_reason == "awaiting_caller" and incident.on_hold_since
    incident = services.resume(incident, actor=agent)
    assert incident.hold_reason == "" and incident.on_hold_since is None


def test_update_records_every_field_change_and_priority_follows(new_incident, team):
    group, agent = team
    incident = services.update_incident(new_incident, actor=agent, changes={"title": "VPN down in Berlin", "impact": 1})
    assert incident.priority == 1
    changes = {e.data["field"]: (e.data["old"], e.data["new"]) for e in incident.timeline.filter(type="field_changed")}
    assert changes == {"title": ("VPN down", "VPN down in Berlin"), "impact": (2, 1), "priority": (2, 1)}


def test_priority_uses_the_configured_matrix(team):
    group, agent = team
    PriorityMatrixEntry.objects.filter(impact=3, urgency=3).update(priority=4)
    incident = services.open_incident(actor=agent, title="x", impact=3, urgency=3)
    assert incident.priority == 4


def test_state_is_not_a_field_you_can_update(new_incident, team):
    group, agent = team
    with pytest.raises(ValidationError) as caught:
        services.update_incident(new_incident, actor=agent, changes={"state": "closed"})
    assert "state" in caught.value.message_dict
    with pytest.raises(AttributeError):
        new_incident.state = "closed"  # the FSM field is protected


def test_assignee_must_be_member_of_group(new_incident, team, make_user):
    group, agent = team
    outsider = make_user(roles.RESOLVER)
    with pytest.raises(ValidationError) as caught:
        services.assign(new_incident, actor=agent, assignee=outsider)
    assert "assignee" in caught.value.message_dict
    new_incident.refresh_from_db()
    assert new_incident.assignee_id is None


def test_reassignment_is_counted_and_recorded(new_incident, team, make_user):
    group, agent = team
    resolver = make_user(roles.RESOLVER)
    network = AssignmentGroupFactory(name="Network", members=[resolver, agent])
    incident = services.assign(new_incident, actor=agent, assignee=agent)
    assert incident.reassignment_count == 0  # first person on an assigned group
    incident = services.assign(incident, actor=agent, group=network, assignee=resolver)
    assert incident.reassignment_count == 1
    event = incident.timeline.filter(type="assigned").last()
    assert event.data == {"old_group": group.pk, "group": network.pk, "old_assignee": agent.pk, "assignee": resolver.pk}


def test_moving_group_drops_an_assignee_who_is_not_a_member(new_incident, team, make_user):
    group, agent = team
    incident = services.assign(new_incident, actor=agent, assignee=agent)
    other = AssignmentGroupFactory(name="Other")
    incident = services.assign(incident, actor=agent, group=other)
    assert incident.assignment_group == other and incident.assignee is None


def test_stale_version_is_refused(new_incident, team):
    group, agent = team
    stale = new_incident.version
    services.update_incident(new_incident, actor=agent, changes={"title": "first"})
    with pytest.raises(StaleRecord):
        services.update_incident(new_incident, actor=agent, changes={"title": "second"}, expected_version=stale)
    new_incident.refresh_from_db()
    assert new_incident.title == "first"


def test_comments_and_watchers_on_the_timeline(new_incident, team, make_user):
    group, agent = team
    watcher = make_user(roles.RESOLVER)
    services.add_comment(new_incident, actor=agent, body="Called the caller", visibility="public")
    services.add_watcher(new_incident, actor=agent, user=watcher)
    services.add_watcher(new_incident, actor=agent, user=watcher)  # twice: once on the timeline
    services.remove_watcher(new_incident, actor=agent, user=watcher)
    types = list(new_incident.timeline.values_list("type", flat=True))
    assert types.count("commented") == 1
    assert types.count("watcher_added") == 1 and types.count("watcher_removed") == 1
    with pytest.raises(ValidationError):
        services.add_comment(new_incident, actor=agent, body="  ")


def test_timeline_and_comments_are_append_only(new_incident, team):
    group, agent = team
    event = new_incident.timeline.first()
    event.data = {"forged": True}
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    comment = services.add_comment(new_incident, actor=agent, body="note")
    with pytest.raises(ValidationError):
        comment.delete()


def test_link_children(new_incident, team):
    group, agent = team
    child = services.open_incident(actor=agent, title="Same VPN problem")
    services.link_children(new_incident, [child], actor=agent)
    child.refresh_from_db()
    assert child.parent == new_incident
    assert new_incident.timeline.filter(type="linked", data__kind="child").exists()
    with pytest.raises(ValidationError):
        services.link_children(child, [services.open_incident(actor=agent, title="grandchild")], actor=agent)
    services.unlink_child(child, actor=agent)
    child.refresh_from_db()
    assert child.parent is None


def test_closed_incident_cannot_be_edited(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.CLOSED, agent)
    with pytest.raises(InvalidTransition):
        services.update_incident(incident, actor=agent, changes={"title": "late edit"})


def test_auto_close_after_delay(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.RESOLVED, agent)
    assert services.auto_close_due() == 0
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(hours=73))
    assert services.auto_close_due() == 1
    incident.refresh_from_db()
    assert incident.state == S.CLOSED and incident.closed_at
    assert incident.timeline.filter(type="transition", data__name="close").exists()


def test_hold_reminder_once_per_hold(new_incident, team):
    group, agent = team
    incident = bring_to(new_incident, S.ON_HOLD, agent)
    Incident.objects.filter(pk=incident.pk).update(on_hold_since=timezone.now() - timedelta(hours=80))
    assert services.remind_long_holds() == 1
    assert services.remind_long_holds() == 0


# --- permissions (DOMAIN.md section 9) --------------------------------------------------------------
def test_read_only_cannot_open_or_change(new_incident, make_user):
    reader = make_user(roles.READ_ONLY)
    with pytest.raises(PermissionDenied):
        services.open_incident(actor=reader, title="x")
    with pytest.raises(PermissionDenied):
        services.add_comment(new_incident, actor=reader, body="hi")


def test_agent_of_another_group_is_refused_with_a_reason(new_incident, make_user):
    other = make_user(roles.SERVICE_DESK_AGENT)
    AssignmentGroupFactory(name="Elsewhere", members=[other])
    with pytest.raises(PermissionDenied) as caught:
        services.start(new_incident, actor=other)
    assert "own assignment groups" in str(caught.value)


def test_agent_may_work_unassigned_incidents(make_user, team):
    group, agent = team
    other = make_user(roles.SERVICE_DESK_AGENT)
    incident = services.open_incident(actor=agent, title="unrouted")
    services.add_comment(incident, actor=other, body="picked up")


def test_integration_creates_and_updates_but_never_closes_or_cancels(new_incident, team, make_user):
    group, agent = team
    bot = make_user(roles.INTEGRATION)
    incident = services.open_incident(actor=bot, title="from monitoring", channel="monitoring")
    services.update_incident(incident, actor=bot, changes={"urgency": 1})
    with pytest.raises(PermissionDenied) as caught:
        services.cancel(incident, actor=bot, reason="noise")
    assert "Integrations may not cancel" in str(caught.value)
    resolved = bring_to(new_incident, S.RESOLVED, agent)
    with pytest.raises(PermissionDenied):
        services.close(resolved, actor=bot)


def test_caller_confirms_resolution(new_incident, team, make_user):
    group, agent = team
    caller = make_user()  # no role at all
    incident = services.update_incident(new_incident, actor=agent, changes={"caller": caller})
    incident = bring_to(incident, S.RESOLVED, agent)
    assert "close" in services.available_transitions(incident, caller)
    assert services.close(incident, actor=caller).state == S.CLOSED


def test_available_transitions_per_user(new_incident, team, make_user):
    group, agent = team
    reader = make_user(roles.READ_ONLY)
    assert services.available_transitions(new_incident, agent) == ["start", "resolve", "cancel"]
    assert services.available_transitions(new_incident, reader) == []
