"""Paging the response team: page, page again, acknowledge, the re-page sweep; the responder API."""

import json
from datetime import timedelta

import pytest
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from communications.models import Notification, Subscription
from incidents.major import responders
from incidents.major.models import MajorIncidentEvent, MajorIncidentSettings, Responder
from itsm import roles
from itsm.exceptions import InvalidTransition
from tests.communications.factories import WebhookEndpointFactory
from tests.factories import AssignmentGroupFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

PAGED = "major_incident.paged"


@pytest.fixture
def manager(make_user):
    return make_user(roles.SERVICE_DESK_AGENT, first_name="Mona", last_name="Manager")


@pytest.fixture
def mi(manager, service):
    bridge = "https://meet.example.com/bridge"
    return MajorIncidentFactory(manager=manager, bridge_url=bridge, chat_channel="#mim-7", affected_services=[service])


@pytest.fixture
def oncall(make_user):
    return make_user(roles.RESOLVER, first_name="Nora", last_name="Network")


def pages(**filters):
    return Notification.objects.filter(event=PAGED, **filters)


def written(mi) -> tuple[int, int, int]:
    timeline = MajorIncidentEvent.objects.filter(major_incident=mi).count()
    return Responder.objects.count(), timeline, Notification.objects.count()


# --- page_responders -------------------------------------------------------------------------------
def test_paging_a_person_writes_the_responder_the_timeline_and_the_page(mi, mim, oncall, service):
    insider = WebhookEndpointFactory(events=[PAGED], include_internal=True)
    # A page is internal, yet registered for listeners: an endpoint listening to it gets it
    # without include_internal (a chat channel of responders); subscribers never do.
    listener = WebhookEndpointFactory(events=["major_incident.*"])
    Subscription.objects.create(email="ceo@example.com", service=service)
    before = timezone.now()
    (row,) = responders.page_responders(mi, actor=mim, user=oncall, role=" network ")

    assert row.paged_now and row.user == oncall and row.role == "network" and row.page_count == 1
    assert before <= row.paged_at == row.last_paged_at
    delay = MajorIncidentSettings.current().repage_after_minutes
    assert row.next_page_at == row.paged_at + timedelta(minutes=delay)
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="paged")
    assert event.actor == mim and event.data == {
        "responder": row.pk,
        "user": oncall.pk,
        "role": "network",
        "page_count": 1,
    }
    email = pages().get(channel="email")
    assert email.recipient == oncall.email and email.public is False
    assert responders.acknowledge_url(row) in email.body_text
    assert "https://meet.example.com/bridge" in email.body_text and "#mim-7" in email.body_text
    assert "as network" in email.message_subject
    assert sorted(pages(channel="webhook").values_list("endpoint", flat=True)) == [insider.pk, listener.pk]
    assert not pages(recipient="ceo@example.com").exists()
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="notified").count() == 3


def test_the_webhook_page_carries_bridge_channel_role_and_acknowledge_link(mi, mim, oncall):
    WebhookEndpointFactory(events=["major_incident.*"], include_internal=True)
    (row,) = responders.page_responders(mi, actor=mim, user=oncall.pk, role="db")

    data = json.loads(pages().get(channel="webhook").body_text)["data"]
    assert data["major_incident"]["bridge_url"] == "https://meet.example.com/bridge"
    assert data["major_incident"]["chat_channel"] == "#mim-7"
    assert data["responder"]["role"] == "db" and data["responder"]["page_count"] == 1
    assert data["acknowledge_url"] == data["responder"]["acknowledge_url"] == responders.acknowledge_url(row)


def test_paging_a_group_pages_each_active_console_member(mi, mim, make_user):
    a, b = make_user(roles.RESOLVER), make_user(roles.RESOLVER)
    gone = make_user(roles.RESOLVER, is_active=False)
    outsider = make_user(is_staff=False)
    group = AssignmentGroupFactory(members=[b, a, gone, outsider])
    rows = responders.page_responders(mi, actor=mim, assignment_group=group.pk, role="dba")
    assert [r.user for r in rows] == sorted([a, b], key=lambda u: u.pk)
    assert {r.assignment_group_id for r in rows} == {group.pk} and {r.role for r in rows} == {"dba"}
    assert set(pages(channel="email").values_list("recipient", flat=True)) == {a.email, b.email}
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="paged").count() == 2


def test_paging_someone_already_responding_returns_their_row_and_pages_nobody(mi, mim, oncall, make_user):
    (first,) = responders.page_responders(mi, actor=mim, user=oncall)
    counts = written(mi)
    (again,) = responders.page_responders(mi, actor=mim, user=oncall, role="other")
    assert again.pk == first.pk and not getattr(again, "paged_now", False)
    assert again.page_count == 1 and again.role == ""
    assert written(mi) == counts
    newcomer = make_user(roles.RESOLVER)
    group = AssignmentGroupFactory(members=[oncall, newcomer])
    rows = responders.page_responders(mi, actor=mim, assignment_group=group)
    assert rows[0].pk == first.pk and [getattr(r, "paged_now", False) for r in rows] == [False, True]
    assert Responder.objects.filter(major_incident=mi).count() == 2


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({}, {"user", "assignment_group"}),
        ({"user": "OTHER", "assignment_group": "GROUP"}, {"user", "assignment_group"}),
        ({"user": 999_999}, {"user"}),
        ({"user": "abc"}, {"user"}),
        ({"user": "INACTIVE"}, {"user"}),
        ({"user": "CALLER"}, {"user"}),
        ({"assignment_group": 999_999}, {"assignment_group"}),
        ({"assignment_group": "EMPTY"}, {"assignment_group"}),
        ({"user": "OTHER", "role": "x" * 101}, {"role"}),
        ({"user": "INACTIVE", "role": "x" * 101}, {"user", "role"}),
    ],
)
def test_bad_input_is_400_naming_every_field_and_writes_nothing(mi, mim, make_user, kwargs, fields):
    people = {
        "OTHER": make_user(roles.RESOLVER),
        "INACTIVE": make_user(roles.RESOLVER, is_active=False),
        "CALLER": make_user(is_staff=False),
        "GROUP": AssignmentGroupFactory(),
        "EMPTY": AssignmentGroupFactory(members=[make_user(is_active=False)]),
    }
    kwargs = {k: people.get(v, v) if isinstance(v, str) and k != "role" else v for k, v in kwargs.items()}
    counts = written(mi)
    with pytest.raises(ValidationError) as excinfo:
        responders.page_responders(mi, actor=mim, **kwargs)
    assert set(excinfo.value.message_dict) == fields
    assert written(mi) == counts


@pytest.mark.parametrize("state", ["resolved", "in_review", "closed", "rejected"])
def test_paging_is_409_naming_the_state_unless_proposed_or_active(mim, oncall, state):
    mi = MajorIncidentFactory(state=state)
    counts = written(mi)
    with pytest.raises(InvalidTransition) as excinfo:
        responders.page_responders(mi, actor=mim, user=oncall)
    assert excinfo.value.current_state == state and state in excinfo.value.detail
    assert written(mi) == counts


def test_a_proposed_major_incident_may_page(mim, oncall):
    mi = MajorIncidentFactory(state="proposed")
    assert responders.page_responders(mi, actor=mim, user=oncall)[0].page_count == 1


def test_only_those_who_run_the_major_incident_page(mi, agent, oncall, manager, reader):
    for outsider in (agent, reader):
        with pytest.raises(PermissionDenied):
            responders.page_responders(mi, actor=outsider, user=oncall)
    assert not Responder.objects.exists()
    assert responders.page_responders(mi, actor=manager, user=oncall)[0].added_by == manager


# --- page_again and acknowledge ------------------------------------------------------------------
def test_page_again_bumps_the_count_and_sends_the_same_page(mi, mim, oncall):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    again = responders.page_again(row, actor=mim)
    assert again.page_count == 2 and again.last_paged_at > again.paged_at == row.paged_at
    assert again.next_page_at > row.next_page_at
    emails = pages(channel="email").order_by("id")
    assert [e.status for e in emails] == ["pending", "pending"]  # not storm-suppressed: it says "PAGE 2"
    assert "PAGE 2 of 3" in emails[1].message_subject
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="paged").count() == 2


def test_page_again_refused_outside_live_states_and_for_outsiders(mi, mim, oncall, agent):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    with pytest.raises(PermissionDenied):
        responders.page_again(row, actor=agent)
    type(mi).objects.filter(pk=mi.pk).update(state="resolved")
    with pytest.raises(InvalidTransition):
        responders.page_again(row, actor=mim)
    assert Responder.objects.get(pk=row.pk).page_count == 1


def test_acknowledge_is_recorded_once_and_stops_re_paging(mi, mim, oncall):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    done = responders.acknowledge(row, actor=oncall)
    assert done.acknowledged_at is not None and done.next_page_at is None
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="acknowledged")
    assert event.actor == oncall and event.data["via"] == "console" and event.data["responder"] == row.pk
    again = responders.acknowledge(row, actor=oncall)
    assert again.acknowledged_at == done.acknowledged_at
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="acknowledged").count() == 1
    assert responders.repage_due(timezone.now() + timedelta(hours=1)) == 0
    # A page again after the answer is sent but does not start chasing them.
    assert responders.page_again(row, actor=mim).next_page_at is None


def test_acknowledge_for_someone_else_needs_a_manager(mi, mim, oncall, agent, manager):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    with pytest.raises(PermissionDenied):
        responders.acknowledge(row, actor=agent)
    assert Responder.objects.get(pk=row.pk).acknowledged_at is None
    assert responders.acknowledge(row, actor=manager).acknowledged_at is not None


def test_acknowledging_a_page_of_a_resolved_major_incident_is_409(mi, mim, oncall):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    type(mi).objects.filter(pk=mi.pk).update(state="resolved")
    with pytest.raises(InvalidTransition):
        responders.acknowledge(row, actor=oncall)
    assert not MajorIncidentEvent.objects.filter(type="acknowledged").exists()


def test_the_acknowledge_token_names_the_page_and_refuses_forgeries(mi, mim, oncall):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    token = responders.acknowledge_token(row)
    assert responders.read_acknowledge_token(token) == {"r": row.pk, "u": oncall.pk, "m": mi.pk}
    assert responders.read_acknowledge_token(token[:-2] + "xx") is None
    assert responders.read_acknowledge_token("garbage") is None
    assert responders.read_acknowledge_token(signing.dumps({"r": row.pk, "u": oncall.pk, "m": mi.pk})) is None
    assert responders.acknowledge_token(row) == token  # the same link on every page


# --- the re-page sweep -----------------------------------------------------------------------------
def _settings(**values) -> MajorIncidentSettings:
    config = MajorIncidentSettings.current()
    for name, value in values.items():
        setattr(config, name, value)
    config.save()
    return config


def test_the_sweep_pages_again_when_due_and_only_then(mi, mim, oncall):
    _settings(repage_after_minutes=5, max_pages=3)
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    assert responders.repage_due(row.next_page_at - timedelta(seconds=1)) == 0
    due = row.next_page_at
    assert responders.repage_due(due) == 1
    row.refresh_from_db()
    assert row.page_count == 2 and row.last_paged_at == due and row.next_page_at == due + timedelta(minutes=5)
    assert responders.repage_due(due) == 0  # the same due moment is paged once
    sweep_event = MajorIncidentEvent.objects.filter(major_incident=mi, type="paged").last()
    assert sweep_event.data["automatic"] is True and sweep_event.data["page_count"] == 2
    assert pages(channel="email").count() == 2


def test_after_the_last_page_the_manager_is_told_once_who_never_answered(mi, mim, oncall, manager, make_user):
    _settings(repage_after_minutes=5, max_pages=2)
    other = make_user(roles.RESOLVER, first_name="Otto", last_name="Other")
    group = AssignmentGroupFactory(members=[oncall, other])
    rows = responders.page_responders(mi, actor=mim, assignment_group=group)
    start = rows[0].paged_at
    assert responders.repage_due(start + timedelta(minutes=5)) == 2  # page 2 of 2
    assert responders.repage_due(start + timedelta(minutes=10)) == 2  # no answer: given up
    for row in rows:
        row.refresh_from_db()
        assert row.page_count == 2 and row.unanswered_at == start + timedelta(minutes=10) and row.next_page_at is None
    told = Notification.objects.filter(event="major_incident.page_unanswered")
    assert list(told.values_list("recipient", flat=True)) == [manager.email]
    assert "Nora Network" in told[0].message_subject and "Otto Other" in told[0].message_subject
    assert "acknowledge/" not in told[0].body_text  # the manager does not get their acknowledge links
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="unanswered").count() == 2
    assert responders.repage_due(start + timedelta(hours=1)) == 0
    assert told.count() == 1 and pages(channel="email").count() == 4


def test_without_a_manager_the_major_incident_managers_are_told(mim, oncall, make_user):
    _settings(repage_after_minutes=5, max_pages=1)
    mi = MajorIncidentFactory(manager=None)
    other_mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    assert responders.repage_due(row.next_page_at) == 1
    told = Notification.objects.filter(event="major_incident.page_unanswered")
    assert set(told.values_list("recipient", flat=True)) == {mim.email, other_mim.email}


def test_a_manual_page_after_giving_up_does_not_tell_the_manager_twice(mi, mim, oncall):
    _settings(repage_after_minutes=5, max_pages=1)
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    responders.repage_due(row.next_page_at)
    again = responders.page_again(row, actor=mim)
    assert responders.repage_due(again.next_page_at) == 1
    assert Notification.objects.filter(event="major_incident.page_unanswered").count() == 1
    assert Responder.objects.get(pk=row.pk).next_page_at is None


def test_resolved_major_incidents_never_re_page(mi, mim, oncall):
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    type(mi).objects.filter(pk=mi.pk).update(state="resolved")
    assert responders.repage_due(row.next_page_at + timedelta(hours=1)) == 0
    assert Responder.objects.get(pk=row.pk).next_page_at is None
    assert pages().count() == 1


def _queries_of_a_sweep(mim, make_user, people_per_record: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    due = None
    for _ in range(2):
        mi = MajorIncidentFactory()
        group = AssignmentGroupFactory(members=[make_user(roles.RESOLVER) for _ in range(people_per_record)])
        for row in responders.page_responders(mi, actor=mim, assignment_group=group):
            due = row.next_page_at
    with CaptureQueriesContext(connection) as queries:
        assert responders.repage_due(due) == 2 * people_per_record
    Responder.objects.update(next_page_at=None)
    return len(queries)


def test_the_sweep_queries_grow_with_records_not_with_responders(mim, make_user):
    _settings(repage_after_minutes=5, max_pages=3)
    _queries_of_a_sweep(mim, make_user, 1)  # warm: the system account, the settings row, caches
    assert _queries_of_a_sweep(mim, make_user, 1) == _queries_of_a_sweep(mim, make_user, 5)
