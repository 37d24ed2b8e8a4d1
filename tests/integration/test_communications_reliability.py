"""Notifications are never lost and never sent twice: real worker, Redis, SMTP and HTTP receivers.

(a) broker unreachable while 50 events are emitted: every emit succeeds; once the broker is
    back the sweep hands everything over and each notification arrives exactly once;
(c) a receiver that fails 3 times then succeeds: delivered on the 4th attempt, same delivery id;
(d) a receiver that always fails: dead after the maximum attempts, visible in the admin.
(b), a worker killed mid-delivery, is in test_communications_worker_loss.py (it kills workers).
"""

import hashlib
import hmac
import time

import pytest
from django.contrib.auth import get_user_model

from communications import services
from communications.models import Notification, NotificationRule
from communications.tasks import sweep_notifications
from itsm.queue import send_now
from tests.communications.live import (
    Recorder,
    emit_one,
    endpoint_at,
    http_receiver,
    set_publish_broker,
)
from tests.helpers import wait_for

SECRET = "integration-secret-0123"


@pytest.fixture
def live(transactional_db, worker, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # endpoints on loopback, checked in this process too
    NotificationRule.objects.all().delete()  # recipients below are exactly the ones each test names
    yield worker
    set_publish_broker(None)
    services.reset_breaker()


@pytest.fixture
def receiver():
    with http_receiver() as server:
        yield server


def test_a_broker_outage_loses_nothing_and_duplicates_nothing(live, smtp, receiver):
    recorder = Recorder()
    endpoint_at(receiver, recorder, SECRET)

    set_publish_broker("redis://127.0.0.1:1/0")  # nothing listens there: every publish fails
    started = time.monotonic()
    for n in range(1, 51):
        rows = emit_one(n, recipients=[f"email:caller{n}@example.com"])
        assert [r.channel for r in rows] == ["email", "webhook"]
    emit_seconds = time.monotonic() - started
    time.sleep(1)
    assert Notification.objects.filter(status="pending").count() == 100
    assert smtp.messages == [] and recorder.requests == []  # nothing reached the worker
    assert emit_seconds < 10, f"50 emits took {emit_seconds:.1f} s with the broker down"

    set_publish_broker(None)  # the broker is back: beat's next sweep runs on the worker
    assert send_now(sweep_notifications)
    wait_for(lambda: Notification.objects.filter(status="sent").count() == 100, timeout=30)
    assert send_now(sweep_notifications)  # a second sweep finds nothing to hand over
    time.sleep(1.5)  # room for a duplicate to show up

    emails = Notification.objects.filter(channel="email")
    assert sorted(smtp.message_ids()) == sorted(f"<{n.delivery_id}@localhost>" for n in emails)
    webhooks = Notification.objects.filter(channel="webhook")
    assert sorted(recorder.delivery_ids()) == sorted(str(n.delivery_id) for n in webhooks)
    assert set(Notification.objects.values_list("attempts", flat=True)) == {1}


def test_a_receiver_failing_three_times_gets_it_on_the_fourth_attempt(live, receiver):
    recorder = Recorder(statuses=[503, 500, 502])
    endpoint_at(receiver, recorder, SECRET)

    row = emit_one()[0]
    wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent")
    row.refresh_from_db()
    assert row.attempts == 4
    assert [a.outcome for a in row.attempt_log.all()] == ["retry", "retry", "retry", "success"]
    assert recorder.delivery_ids() == [str(row.delivery_id)] * 4
    assert len({body for _, body in recorder.requests}) == 1  # the same bytes every time
    for headers, body in recorder.requests:
        mac = hmac.new(SECRET.encode(), f"{headers['X-Itsm-Timestamp']}.".encode() + body, hashlib.sha256)
        assert headers["X-Itsm-Signature"] == f"sha256={mac.hexdigest()}"


def test_a_receiver_that_always_fails_ends_dead_and_shows_in_the_admin(live, receiver, settings, client):
    settings.NOTIFICATION_MAX_ATTEMPTS = 4  # copied onto the row: the worker honours it
    recorder = Recorder(default=500)
    endpoint_at(receiver, recorder, SECRET)

    row = emit_one()[0]
    wait_for(lambda: Notification.objects.get(pk=row.pk).status == "dead")
    time.sleep(1)  # no fifth attempt comes
    row.refresh_from_db()
    assert row.attempts == 4 and len(recorder.requests) == 4 and row.last_error == "HTTP 500"
    assert [a.outcome for a in row.attempt_log.all()] == ["retry", "retry", "retry", "failure"]

    client.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw"))
    page = client.get("/admin/communications/notification/", {"status__exact": "dead"})
    assert page.status_code == 200 and f"/admin/communications/notification/{row.pk}/".encode() in page.content
