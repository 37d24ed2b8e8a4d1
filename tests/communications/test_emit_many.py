"""emit_many(): the rows of calling emit() for each occurrence in turn, with a fixed number of statements."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communications import services
from communications.models import Notification
from communications.services import Emission, emit, emit_many
from tests.communications.factories import (
    NotificationRuleFactory,
    SubscriptionFactory,
    WebhookEndpointFactory,
    make_subject,
)

pytestmark = pytest.mark.django_db

FIELDS = ("event", "subject_id", "channel", "recipient", "status", "reason", "rule_id", "subscription_id")


def comment(body: str) -> dict:
    return {"comment": {"body": body, "visibility": "public"}}


@pytest.fixture
def people(make_user, group, no_default_rules):
    """A group with a manager and two members, a rule telling them, an endpoint, a subscriber."""
    manager = make_user(email="manager@example.com")
    members = [make_user(email=f"member{i}@example.com") for i in range(2)]
    group.manager = manager
    group.save()
    group.members.add(*members)
    NotificationRuleFactory(events=["incident.commented"], recipients=["group_members", "group_manager"])
    WebhookEndpointFactory(events=["incident.*"])
    SubscriptionFactory(subject_kind="incident", subject_id=2, email="follower@example.com")
    return group, manager, members


def _emissions(group, assignee) -> list[Emission]:
    return [
        Emission("incident.commented", make_subject(id=1, group_id=group.pk), comment("first")),
        Emission(
            "incident.commented",
            make_subject(id=2, number="INC0000002", group_id=group.pk, assignee_id=assignee.pk),
            comment("second"),
            recipients=["assignee", "email:desk@example.com", "user:999999"],
        ),
        Emission("incident.commented", make_subject(id=3, number="INC0000003"), comment("third"), public=False),
    ]


def _shape(rows) -> list[tuple]:
    return [tuple(getattr(row, f) for f in FIELDS) for row in rows]


def test_writes_what_emit_writes_for_each_occurrence_in_turn(people, make_user):
    group, manager, members = people
    assignee = make_user(email="assignee@example.com")
    one_by_one = [
        _shape(emit(e.event_type, e.subject, e.context, public=e.public, recipients=e.recipients))
        for e in _emissions(group, assignee)
    ]
    Notification.objects.all().delete()
    together = [_shape(rows) for rows in emit_many(_emissions(group, assignee))]
    assert together == one_by_one
    assert together[0] and together[1]
    assert Notification.objects.count() == sum(len(rows) for rows in together)


def test_a_repeat_within_the_call_is_suppressed_as_a_duplicate_of_the_first(people):
    group, _, _ = people
    subject = make_subject(id=1, group_id=group.pk)
    first, second = emit_many(
        [
            Emission("incident.commented", subject, comment("Still broken")),
            Emission("incident.commented", subject, comment("Still broken")),
        ]
    )
    human_first = {r.recipient: r for r in first if r.channel == "email"}
    human_second = [r for r in second if r.channel == "email"]
    assert human_second and all(r.status == "suppressed" for r in human_second)
    assert all(r.duplicate_of_id == human_first[r.recipient].pk for r in human_second)
    assert [r.status for r in second if r.channel == "webhook"] == ["pending"]  # webhooks get every event


def test_a_repeat_of_an_earlier_emit_is_suppressed(people):
    group, _, _ = people
    subject = make_subject(id=1, group_id=group.pk)
    earlier = {r.recipient: r.pk for r in emit("incident.commented", subject, comment("Same"))}
    (rows,) = emit_many([Emission("incident.commented", subject, comment("Same"))])
    human = [r for r in rows if r.channel == "email"]
    assert human and all(r.status == "suppressed" and r.duplicate_of_id == earlier[r.recipient] for r in human)


def test_a_burst_within_the_call_is_held_for_a_digest(make_user, no_default_rules, settings):
    settings.NOTIFICATION_DIGEST_THRESHOLD = 3
    watcher = make_user()
    NotificationRuleFactory(events=["incident.*"], recipients=[], users=[watcher])
    emit("incident.created", make_subject(id=100, number="INC0000100"), {})  # one already in the window
    written = emit_many(
        [Emission("incident.created", make_subject(id=n, number=f"INC{n:07d}"), {}) for n in range(1, 6)]
    )
    assert [rows[0].status for rows in written] == ["pending", "pending", "held", "held", "held"]


def test_the_same_occurrence_twice_is_written_once(people):
    group, _, _ = people
    at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    emission = Emission("incident.commented", make_subject(id=1, group_id=group.pk), comment("x"), occurred_at=at)
    first, second = emit_many([emission, emission])
    assert first and second == []
    assert emit_many([emission]) == [[]]
    assert Notification.objects.count() == len(first)


def test_one_hand_off_after_commit_for_the_whole_call(people, monkeypatch, django_capture_on_commit_callbacks):
    group, _, _ = people
    published: list[list[int]] = []
    monkeypatch.setattr(services, "publish", lambda ids, **kw: published.append(list(ids)) or len(ids))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        written = emit_many(
            [Emission("incident.commented", make_subject(id=n, group_id=group.pk), comment("x")) for n in (1, 2, 3)]
        )
    assert len(callbacks) == 1
    assert published == [[row.pk for rows in written for row in rows if row.status == "pending"]]


def test_statements_do_not_grow_with_the_number_of_occurrences(people):
    group, _, _ = people

    def run(ids) -> int:
        emissions = [
            Emission(
                "incident.commented",
                make_subject(id=n, number=f"INC{n:07d}", group_id=group.pk),
                comment("x"),
                recipients=["group_manager", "user:999999"],  # a user who is gone is looked up once
            )
            for n in ids
        ]
        with CaptureQueriesContext(connection) as ctx:
            emit_many(emissions)
        return len(ctx.captured_queries)

    few, many = run(range(1, 4)), run(range(10, 16))
    # The configuration (7: this test's transaction changed it, so no cached snapshot), users,
    # groups, members, subscriptions, storm control (2), idempotency keys, the INSERT and its
    # savepoints.
    assert few == many <= 19


def test_an_unknown_event_raises_before_writing_anything(people):
    with pytest.raises(ValueError):
        emit_many(
            [
                Emission("incident.commented", make_subject(id=1), comment("x")),
                Emission("incident.exploded", make_subject(id=2), {}),
            ]
        )
    assert not Notification.objects.exists()


def test_nothing_to_emit():
    assert emit_many([]) == []
