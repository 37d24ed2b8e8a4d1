"""emit(): the outbox in the caller's transaction, after-commit hand-off, rules and audiences."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.db import transaction

from communications.models import Notification
from communications.services import emit, register_event_types
from itsm import roles
from tests.communications.factories import (
    NotificationRuleFactory,
    SubscriptionFactory,
    WebhookEndpointFactory,
    incident_context,
    make_subject,
)

pytestmark = pytest.mark.django_db


def recipients(rows) -> set[str]:
    return {r.recipient for r in rows}


# --- contract ------------------------------------------------------------------------------------


def test_unregistered_event_type_raises_and_writes_nothing():
    with pytest.raises(ValueError, match="Unknown event type"):
        emit("incident.exploded", make_subject(), {})
    assert not Notification.objects.exists()


def test_context_must_be_json_data():
    with pytest.raises(ValueError, match="JSON"):
        emit("incident.created", make_subject(), {"when": object()})


def test_other_apps_register_their_event_types(no_default_rules, make_user):
    user = make_user()
    register_event_types("incident.hold_reminder_test")
    NotificationRuleFactory(events=["incident.hold_reminder_test"], recipients=[], users=[user])
    rows = emit("incident.hold_reminder_test", make_subject(), {})
    assert recipients(rows) == {user.email}


def test_rows_are_written_in_the_callers_transaction_and_vanish_on_rollback(make_user, group):
    make_user(groups=[group])
    subject = make_subject(group_id=group.pk)
    with pytest.raises(RuntimeError), transaction.atomic():
        rows = emit("incident.created", subject, incident_context())
        assert rows and Notification.objects.count() == len(rows)
        raise RuntimeError("the domain change failed")
    assert not Notification.objects.exists()


def test_hand_off_happens_only_after_commit(make_user, group, django_capture_on_commit_callbacks):
    member = make_user(groups=[group])
    group.email = ""
    group.save()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = emit("incident.created", make_subject(group_id=group.pk), incident_context())
    assert [r.status for r in rows] == ["pending"]
    assert mail.outbox == []  # nothing left the building before commit
    assert len(callbacks) == 1

    callbacks[0]()
    row = Notification.objects.get()
    assert row.status == "sent" and row.attempts == 1 and row.sent_at
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_same_occurrence_twice_is_written_once(make_user, group):
    make_user(groups=[group])
    subject = make_subject(group_id=group.pk)
    at = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    first = emit("incident.created", subject, incident_context(), occurred_at=at)
    second = emit("incident.created", subject, incident_context(), occurred_at=at)
    assert first and second == []
    assert Notification.objects.count() == len(first)


def test_idempotency_key_differs_per_recipient_and_channel(make_user, group):
    make_user(groups=[group])
    make_user(groups=[group])
    group.email = ""
    group.save()
    rows = emit("incident.created", make_subject(group_id=group.pk), incident_context())
    assert len(rows) == 2 and len({r.idempotency_key for r in rows}) == 2
    assert len({r.delivery_id for r in rows}) == 2


# --- the default rule set --------------------------------------------------------------------


def test_new_incident_goes_to_the_group_mailbox_else_its_members(make_user, group):
    member = make_user(groups=[group])
    rows = emit("incident.created", make_subject(group_id=group.pk), incident_context())
    assert recipients(rows) == {group.email}

    group.email = ""
    group.save()
    rows = emit("incident.created", make_subject(id=2, group_id=group.pk), incident_context())
    assert recipients(rows) == {member.email}


def test_assignment_tells_the_assignee_or_the_group(make_user, group):
    assignee = make_user(groups=[group])
    rows = emit("incident.assigned", make_subject(group_id=group.pk, assignee_id=assignee.pk), incident_context())
    assert recipients(rows) == {assignee.email}
    rows = emit("incident.assigned", make_subject(id=3, group_id=group.pk), incident_context())
    assert recipients(rows) == {group.email}


def test_resolution_tells_the_caller_other_state_changes_do_not(make_user):
    caller = make_user()
    subject = make_subject(caller_id=caller.pk)
    assert emit("incident.state_changed", subject, incident_context(state="in_progress")) == []
    rows = emit("incident.state_changed", subject, incident_context(state="resolved"))
    assert recipients(rows) == {caller.email}
    assert "Resolved" in rows[0].message_subject


def test_external_caller_is_reached_by_email():
    subject = make_subject(caller_email="Guest@Example.org")
    rows = emit("incident.commented", subject, {**incident_context(), "comment": {"body": "Hi"}})
    assert recipients(rows) == {"guest@example.org"}


def test_sla_breach_tells_assignee_and_group_manager(make_user, group):
    assignee, manager = make_user(groups=[group]), make_user()
    group.manager = manager
    group.save()
    subject = make_subject(group_id=group.pk, assignee_id=assignee.pk)
    rows = emit("sla.breached", subject, {**incident_context(), "sla": {"policy_name": "P3", "percent": 100}})
    assert recipients(rows) == {assignee.email, manager.email}


def test_major_incident_proposal_pages_major_incident_managers(make_user):
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    make_user(roles.RESOLVER)
    rows = emit("major_incident.proposed", make_subject(kind="major_incident", number="MAJ1"), {})
    assert recipients(rows) == {mim.email}


# --- audience of internal events ---------------------------------------------------------------


def test_internal_comment_never_reaches_caller_stakeholders_subscribers_or_public_endpoints(make_user, group, service):
    caller = make_user(is_staff=False)
    watcher_staff, watcher_external = make_user(), make_user(is_staff=False)
    SubscriptionFactory(email="ceo@example.com", service=service)
    WebhookEndpointFactory(events=["incident.commented"])
    insider = WebhookEndpointFactory(events=["incident.commented"], include_internal=True)
    subject = make_subject(
        caller_id=caller.pk,
        caller_email="other@example.com",
        service_id=service.pk,
        group_id=group.pk,
        watcher_ids=(watcher_staff.pk, watcher_external.pk),
        stakeholder_emails=("board@example.com",),
    )
    context = {**incident_context(), "comment": {"body": "root cause is Bob", "visibility": "internal"}}

    rows = emit("incident.commented", subject, context, public=False)
    assert recipients(rows) == {watcher_staff.email, insider.url}
    assert all(not r.public for r in rows)

    public_rows = emit("incident.commented", make_subject(**{**subject.__dict__, "id": 99}), context)
    assert {caller.email, watcher_staff.email, watcher_external.email, "ceo@example.com"} <= recipients(public_rows)


def test_the_actor_is_not_told_about_their_own_action_unless_the_rule_says_so(make_user, no_default_rules):
    agent, other = make_user(), make_user()
    rule = NotificationRuleFactory(events=["incident.commented"], recipients=[], users=[agent, other])
    rows = emit("incident.commented", make_subject(), {}, actor=agent)
    assert recipients(rows) == {other.email}
    rule.notify_actor = True
    rule.save()
    rows = emit("incident.commented", make_subject(id=2), {}, actor=agent)
    assert recipients(rows) == {agent.email, other.email}


def test_inactive_users_and_users_without_email_are_skipped(make_user, no_default_rules):
    gone, silent, ok = make_user(is_active=False), make_user(email=""), make_user()
    NotificationRuleFactory(events=["incident.created"], recipients=[], users=[gone, silent, ok])
    assert recipients(emit("incident.created", make_subject(), {})) == {ok.email}


# --- rule filters -------------------------------------------------------------------------------


def test_rule_filters_priority_service_group_and_context_conditions(make_user, service, group, no_default_rules):
    user = make_user()
    NotificationRuleFactory(
        events=["incident.*"],
        recipients=[],
        users=[user],
        priorities=[1, 2],
        services=[service],
        groups=[group],
        conditions={"incident.state": ["resolved", "closed"]},
    )
    good = {"priority": 1, "service_id": service.pk, "group_id": group.pk}
    resolved = incident_context(state="resolved")
    assert recipients(emit("incident.state_changed", make_subject(id=1, **good), resolved)) == {user.email}
    assert emit("incident.state_changed", make_subject(id=2, **{**good, "priority": 3}), resolved) == []
    assert emit("incident.state_changed", make_subject(id=3, **{**good, "service_id": None}), resolved) == []
    assert emit("incident.state_changed", make_subject(id=4, **{**good, "group_id": None}), resolved) == []
    assert emit("incident.state_changed", make_subject(id=5, **good), incident_context(state="new")) == []


def test_inactive_rules_and_other_events_do_not_match(make_user, no_default_rules):
    user = make_user()
    NotificationRuleFactory(events=["incident.created"], recipients=[], users=[user], active=False)
    NotificationRuleFactory(events=["problem.*"], recipients=[], users=[user])
    assert emit("incident.created", make_subject(), {}) == []


def test_a_person_reached_by_two_rules_gets_one_message(make_user, group, no_default_rules):
    assignee = make_user(groups=[group])
    NotificationRuleFactory(events=["incident.created"], recipients=["assignee"])
    NotificationRuleFactory(events=["incident.*"], recipients=["group_members"])
    rows = emit("incident.created", make_subject(group_id=group.pk, assignee_id=assignee.pk), {})
    assert [r.recipient for r in rows] == [assignee.email]


def test_explicit_recipients_from_the_caller(make_user, group, no_default_rules):
    manager, named = make_user(), make_user()
    group.manager = manager
    group.save()
    rows = emit(
        "sla.warning",
        make_subject(group_id=group.pk),
        {},
        recipients=["group_manager", f"user:{named.pk}", "email:duty@example.com", "nonsense"],
    )
    assert recipients(rows) == {manager.email, named.email, "duty@example.com"}


def test_webhook_and_chat_rules_post_to_their_endpoints(no_default_rules):
    slack = WebhookEndpointFactory(channel="slack", events=[], secret="", url="https://hooks.slack.com/services/T/B/X")
    NotificationRuleFactory(events=["major_incident.*"], channel="slack", recipients=[], endpoints=[slack])
    rows = emit("major_incident.declared", make_subject(kind="major_incident"), {})
    assert [(r.channel, r.recipient, r.endpoint_id) for r in rows] == [("slack", slack.url, slack.pk)]


# --- endpoints and subscriptions --------------------------------------------------------------


def test_endpoints_receive_their_events_without_any_rule(no_default_rules):
    everything = WebhookEndpointFactory(events=["*"])
    incidents = WebhookEndpointFactory(events=["incident.*"])
    WebhookEndpointFactory(events=["problem.resolved"])
    WebhookEndpointFactory(events=["*"], active=False)
    rows = emit("incident.created", make_subject(), {})
    assert {r.endpoint_id for r in rows} == {everything.pk, incidents.pk}
    assert all(r.channel == "webhook" for r in rows)


def test_subscribers_of_the_service_and_of_the_record_get_public_events(make_user, service, no_default_rules):
    follower, record_fan = make_user(), make_user()
    SubscriptionFactory(user=follower, service=service)
    SubscriptionFactory(user=record_fan, subject_kind="incident", subject_id=7)
    SubscriptionFactory(email="exec@example.com", service=service, events=["major_incident.*"])
    rows = emit("incident.created", make_subject(id=7, service_id=service.pk), {})
    assert recipients(rows) == {follower.email, record_fan.email}
    assert all(r.subscription_id for r in rows)
    assert "Unsubscribe: http" in rows[0].body_text
