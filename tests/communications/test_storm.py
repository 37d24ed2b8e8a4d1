"""Storm control: repeats within the window are suppressed, bursts become one digest."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from communications import delivery
from communications.models import Notification
from communications.services import emit
from tests.communications.factories import NotificationRuleFactory, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def watcher(make_user, no_default_rules):
    user = make_user()
    NotificationRuleFactory(events=["incident.*"], recipients=[], users=[user])
    return user


def comment(body: str) -> dict:
    return {"comment": {"body": body, "visibility": "public"}}


def test_the_same_message_twice_within_the_window_is_suppressed(watcher):
    first = emit("incident.commented", make_subject(), comment("Still broken"))
    second = emit("incident.commented", make_subject(), comment("Still broken"))
    assert first[0].status == "pending"
    assert second[0].status == "suppressed" and second[0].duplicate_of_id == first[0].pk
    assert "storm control" in second[0].last_error


def test_a_different_message_about_the_same_record_is_delivered(watcher):
    emit("incident.commented", make_subject(), comment("Looking into it"))
    second = emit("incident.commented", make_subject(), comment("Fixed the cable"))
    assert second[0].status == "pending"


def test_the_same_message_about_another_record_or_after_the_window_is_delivered(watcher, settings):
    first = emit("incident.commented", make_subject(), comment("Same text"))
    assert emit("incident.commented", make_subject(id=2), comment("Same text"))[0].status == "pending"
    Notification.objects.filter(pk=first[0].pk).update(
        created_at=timezone.now() - timedelta(seconds=settings_window(settings) + 1)
    )
    assert emit("incident.commented", make_subject(), comment("Same text"))[0].status == "pending"


def settings_window(settings) -> int:
    from communications import conf

    return conf.dedup_window_seconds()


def test_window_is_configurable(watcher, settings):
    settings.NOTIFICATION_DEDUP_WINDOW_SECONDS = 0
    emit("incident.commented", make_subject(), comment("Same text"))
    assert emit("incident.commented", make_subject(), comment("Same text"))[0].status == "pending"


def test_webhooks_get_every_event(no_default_rules):
    WebhookEndpointFactory(events=["incident.commented"])
    emit("incident.commented", make_subject(), comment("Same text"))
    assert emit("incident.commented", make_subject(), comment("Same text"))[0].status == "pending"


def test_a_burst_for_one_recipient_becomes_one_digest(watcher, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATION_DIGEST_THRESHOLD = 3
    with django_capture_on_commit_callbacks(execute=True):
        rows = [emit("incident.created", make_subject(id=n, number=f"INC{n:07d}"), {})[0] for n in range(1, 8)]
    assert [r.status for r in rows] == ["pending"] * 3 + ["held"] * 4
    assert len(mail.outbox) == 3

    # Not yet: held rows wait for the digest delay.
    assert delivery.sweep()["digests"] == 0
    Notification.objects.filter(status="held").update(created_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep()["digests"] == 1

    digest = Notification.objects.get(event="notification.digest")
    assert digest.status == "sent" and digest.recipient == watcher.email
    assert set(Notification.objects.filter(digest=digest).values_list("status", flat=True)) == {"digested"}
    assert Notification.objects.filter(digest=digest).count() == 4
    message = mail.outbox[-1]
    assert message.subject.startswith("4 notifications")
    for n in range(4, 8):
        assert f"INC{n:07d}" in message.body
    assert len(mail.outbox) == 4


def test_digests_are_off_with_threshold_zero(watcher, settings):
    settings.NOTIFICATION_DIGEST_THRESHOLD = 0
    rows = [emit("incident.created", make_subject(id=n), {})[0] for n in range(1, 15)]
    assert {r.status for r in rows} == {"pending"}
