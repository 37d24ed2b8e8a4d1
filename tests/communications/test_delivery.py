"""Delivery over HTTP (a real receiver on loopback) and email: format, signature, retries."""

import contextlib
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from werkzeug import Response

from communications import delivery
from communications.channels import SendResult
from communications.models import Notification, WebhookEndpoint
from communications.services import emit, retry_notification
from tests.communications.factories import SECRET, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(private_ok, httpserver, no_default_rules):
    return WebhookEndpointFactory(url=httpserver.url_for("/hook"), events=["incident.*"])


def one_row(**subject) -> Notification:
    rows = emit("incident.created", make_subject(**subject), {"incident": {"state": "new"}})
    assert len(rows) == 1
    return rows[0]


def make_due(row: Notification) -> None:
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


def test_webhook_body_headers_and_signature_exactly_as_specified(endpoint, httpserver):
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    row = one_row()
    before = int(time.time())
    assert delivery.deliver(row.pk).startswith("success")

    request, _ = httpserver.log[0]
    raw = request.get_data()
    body = json.loads(raw)
    assert set(body) == {"id", "event", "occurred_at", "data"}
    assert body["id"] == str(row.delivery_id) and body["event"] == "incident.created"
    assert body["occurred_at"].endswith("Z")
    assert body["data"]["subject"]["number"] == "INC0000001" and body["data"]["incident"] == {"state": "new"}
    assert "caller_email" not in body["data"]["subject"]

    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["X-ITSM-Event"] == "incident.created"
    assert headers["X-ITSM-Delivery"] == str(row.delivery_id)
    timestamp = headers["X-ITSM-Timestamp"]
    assert timestamp.isdigit() and before <= int(timestamp) <= time.time() + 1
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-ITSM-Signature"] == f"sha256={expected}"

    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert row.status == "sent" and row.attempts == 1
    assert endpoint.last_success_at and endpoint.consecutive_failures == 0


def test_5xx_is_retried_with_the_same_delivery_id_and_body(endpoint, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok", status=200)
    row = one_row()

    assert delivery.deliver(row.pk).startswith("retry")
    row.refresh_from_db()
    assert row.status == "failed" and row.next_attempt_at > timezone.now() and row.last_error == "HTTP 503"
    assert delivery.deliver(row.pk) == "skipped: not due yet"

    make_due(row)
    assert delivery.deliver(row.pk).startswith("success")
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    (first, _), (second, _) = httpserver.log
    assert first.headers["X-ITSM-Delivery"] == second.headers["X-ITSM-Delivery"] == str(row.delivery_id)
    assert first.get_data() == second.get_data()
    assert [(a.number, a.outcome, a.status_code) for a in row.attempt_log.all()] == [
        (1, "retry", 503),
        (2, "success", 200),
    ]
    endpoint.refresh_from_db()
    assert endpoint.total_failures == 1 and endpoint.consecutive_failures == 0


def test_410_disables_the_endpoint(endpoint, httpserver):
    httpserver.expect_request("/hook").respond_with_data("gone", status=410)
    row = one_row()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert row.status == "dead" and "410" in row.last_error
    assert endpoint.active is False and endpoint.disabled_at and "410" in endpoint.disabled_reason
    # Later events skip a disabled endpoint entirely.
    assert emit("incident.created", make_subject(id=2), {}) == []


@pytest.mark.parametrize(
    ("status", "final"),
    [(429, "failed"), (500, "failed"), (408, "failed"), (404, "dead"), (400, "dead"), (301, "dead")],
)
def test_http_answers_are_classified(endpoint, httpserver, status, final):
    httpserver.expect_request("/hook").respond_with_response(
        Response("x", status=status, headers={"Location": "http://169.254.169.254/"} if status == 301 else {})
    )
    row = one_row()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == final
    assert len(httpserver.log) == 1  # a redirect is never followed


def test_retry_after_is_honoured(endpoint, httpserver, settings):
    settings.NOTIFICATION_BACKOFF_BASE_SECONDS = 1
    httpserver.expect_request("/hook").respond_with_response(Response("slow down", 429, {"Retry-After": "120"}))
    row = one_row()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.next_attempt_at - timezone.now() > timedelta(seconds=100)


def test_timeouts_are_retried(endpoint, httpserver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3

    def slow(request):
        time.sleep(1)
        return Response("late")

    httpserver.expect_request("/hook").respond_with_handler(slow)
    row = one_row()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "failed" and row.last_error.startswith("Timeout")


def test_connection_refused_is_retried(private_ok, no_default_rules):
    WebhookEndpointFactory(url="http://127.0.0.1:9/hook", events=["incident.*"])
    row = one_row()
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "failed" and "ConnectError" in row.last_error


def test_dead_after_the_maximum_attempts_then_retry_now_gives_a_new_budget(endpoint, httpserver, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    row = one_row()
    for _ in range(3):
        make_due(row)
        delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "dead" and row.attempts == 3 and row.next_attempt_at is None
    assert [a.outcome for a in row.attempt_log.all()] == ["retry", "retry", "failure"]
    assert delivery.deliver(row.pk) == "skipped: status is dead"

    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    retry_notification(row.pk)
    row.refresh_from_db()
    assert row.status == "pending" and row.max_attempts == 6
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 4
    assert httpserver.log[-1][0].headers["X-ITSM-Delivery"] == str(row.delivery_id)


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.NOTIFICATION_BACKOFF_BASE_SECONDS = 10
    settings.NOTIFICATION_BACKOFF_MAX_SECONDS = 100
    for attempt, full in [(1, 10), (2, 20), (3, 40), (4, 80), (5, 100), (9, 100)]:
        delays = {delivery.backoff_seconds(attempt) for _ in range(20)}
        assert all(full / 2 <= d <= full for d in delays)
        assert len(delays) > 1  # jitter


def test_slack_format(private_ok, httpserver, no_default_rules):
    WebhookEndpointFactory(channel="slack", secret="", url=httpserver.url_for("/slack"), events=["incident.*"])
    httpserver.expect_request("/slack").respond_with_data("ok")
    delivery.deliver(one_row().pk)
    body = httpserver.log[0][0].get_json()
    assert body["text"].startswith("Incident created: INC0000001")
    assert body["blocks"][0]["text"]["type"] == "mrkdwn"
    assert (
        "<https://itsm.example.com/admin/incidents/incident/1/change/|INC0000001>" in body["blocks"][0]["text"]["text"]
    )
    assert "X-ITSM-Signature" not in httpserver.log[0][0].headers


def test_teams_format(private_ok, httpserver, no_default_rules):
    WebhookEndpointFactory(channel="teams", secret="", url=httpserver.url_for("/teams"), events=["incident.*"])
    httpserver.expect_request("/teams").respond_with_data("1")
    delivery.deliver(one_row().pk)
    body = httpserver.log[0][0].get_json()
    assert body["type"] == "message"
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    assert "INC0000001" in card["content"]["body"][0]["text"]


# --- email ----------------------------------------------------------------------------------------


def test_email_has_text_and_html_parts_and_a_stable_message_id(make_user, group):
    member = make_user(groups=[group])
    group.email = ""
    group.save()
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    delivery.deliver(row.pk)
    message = mail.outbox[0]
    assert message.to == [member.email]
    assert message.subject.startswith("[INC0000001] New incident")
    assert message.alternatives[0][1] == "text/html" and "<!doctype html>" in message.alternatives[0][0]
    assert message.extra_headers["Message-ID"] == f"<{row.delivery_id}@localhost>"
    assert message.extra_headers["References"] == "<incident-1@localhost>"
    assert "Why you received this" in message.body


def test_smtp_permanent_and_temporary_errors(make_user, group, monkeypatch):
    import smtplib

    from communications import channels

    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]

    class Refusing:
        def __init__(self, code):
            self.code = code

        def send_messages(self, messages):
            raise smtplib.SMTPRecipientsRefused({"x@example.com": (self.code, b"no")})

    monkeypatch.setattr(channels, "get_connection", lambda **kw: Refusing(450))
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "failed"

    make_due(row)
    monkeypatch.setattr(channels, "get_connection", lambda **kw: Refusing(550))
    delivery.deliver(row.pk)
    row.refresh_from_db()
    assert row.status == "dead"


# --- the claim and the sweep --------------------------------------------------------------------


def test_a_sent_row_is_never_sent_again(make_user, group):
    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    delivery.deliver(row.pk)
    assert delivery.deliver(row.pk) == "skipped: status is sent"
    assert len(mail.outbox) == 1


def test_sweep_republishes_pending_rows_whose_hand_off_was_lost(make_user, group, settings):
    settings.NOTIFICATION_SWEEP_GRACE_SECONDS = 30
    make_user(groups=[group])
    fresh = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    lost = emit("incident.created", make_subject(id=2, group_id=group.pk), {})[0]
    Notification.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    counts = delivery.sweep()  # eager Celery: the re-published task runs at once
    assert counts["pending"] == 1 and counts["published"] == 1
    assert Notification.objects.get(pk=lost.pk).status == "sent"
    assert Notification.objects.get(pk=fresh.pk).status == "pending"
    assert Notification.objects.get(pk=lost.pk).queued_at is not None


def test_sweep_recovers_a_delivery_whose_worker_was_lost(
    make_user, group, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATION_SENDING_TIMEOUT_SECONDS = 60
    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    claimed, _ = delivery.claim(row.pk)  # a worker took it ... and died
    assert claimed.status == "sending"
    assert delivery.deliver(row.pk) == "skipped: status is sending"
    Notification.objects.filter(pk=row.pk).update(sending_started_at=timezone.now() - timedelta(minutes=5))

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery.sweep()["interrupted"] == 1
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    assert [a.outcome for a in row.attempt_log.all()] == ["interrupted", "success"]
    assert len(mail.outbox) == 1


def test_sweep_sends_due_retries_whose_message_was_lost(endpoint, httpserver, settings):
    settings.NOTIFICATION_SWEEP_GRACE_SECONDS = 0
    settings.NOTIFICATION_REQUEUE_INTERVAL_SECONDS = 0
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    row = one_row()
    delivery.deliver(row.pk)
    Notification.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery.sweep()["failed"] == 1
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2


def test_a_late_success_wins_over_a_takeover(make_user, group):
    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    claimed, _ = delivery.claim(row.pk)
    Notification.objects.filter(pk=row.pk).update(status="failed", attempts=2)  # the sweep took it over
    delivery.record(claimed, SendResult(ok=True, status_code=200), timezone.now())
    assert Notification.objects.get(pk=row.pk).status == "sent"


def test_a_late_failure_does_not_overwrite_a_takeover(make_user, group):
    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    claimed, _ = delivery.claim(row.pk)
    Notification.objects.filter(pk=row.pk).update(status="sent")
    delivery.record(claimed, SendResult(ok=False, retry=True, error="late"), timezone.now())
    row.refresh_from_db()
    assert row.status == "sent" and row.attempt_log.count() == 1


def test_a_disabled_endpoint_is_not_called_nor_blamed(endpoint, httpserver):
    row = one_row()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason="maintenance")
    delivery.deliver(row.pk)
    row.refresh_from_db()
    endpoint.refresh_from_db()
    assert row.status == "dead" and "disabled" in row.last_error
    assert httpserver.log == [] and endpoint.consecutive_failures == 0


@pytest.mark.parametrize(("base", "countdown_message"), [(1, True), (3600, False)])
def test_short_backoffs_use_a_countdown_long_ones_are_left_to_the_sweep(
    endpoint, httpserver, settings, monkeypatch, django_capture_on_commit_callbacks, base, countdown_message
):
    from communications import delivery as module

    settings.NOTIFICATION_BACKOFF_BASE_SECONDS = base
    published = []
    monkeypatch.setattr(module, "send_now", lambda task, *args, **kw: published.append(kw))
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    row = one_row()
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver(row.pk)
    assert bool(published) is countdown_message  # no hour-long ETA message sitting in a worker
    if countdown_message:
        assert 0 < published[0]["countdown"] <= 1


def test_a_delivery_costs_two_statements_on_postgresql(endpoint, httpserver, django_assert_num_queries):
    """Claim (UPDATE ... RETURNING with the endpoint joined) and record (attempt, `sent` and the
    endpoint's success stamp in one statement); no transaction of its own. Other databases take
    the portable path: a conditional UPDATE, a read, and a locked read-modify-write (4 statements;
    inside the test's transaction its atomic block adds a SAVEPOINT and its RELEASE)."""
    from django.db import connection

    httpserver.expect_request("/hook").respond_with_data("ok")
    first, second = one_row(id=1), one_row(id=2)
    expected = 2 if connection.vendor == "postgresql" else 8
    with django_assert_num_queries(expected):
        assert delivery.deliver(first.pk) == "success (sent)"
    with django_assert_num_queries(expected):  # the endpoint was stamped just now: not touched again
        assert delivery.deliver(second.pk) == "success (sent)"
    with django_assert_num_queries(2):  # the claim matches nothing; a read says why
        assert delivery.deliver(second.pk) == "skipped: status is sent"
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.consecutive_failures == 0
    assert [a.outcome for a in Notification.objects.get(pk=second.pk).attempt_log.all()] == ["success"]


def test_a_batch_is_claimed_and_recorded_with_two_statements_on_postgresql(
    endpoint, httpserver, django_assert_num_queries
):
    from django.db import connection

    httpserver.expect_request("/hook").respond_with_data("ok")
    rows = [one_row(id=n) for n in range(1, 6)]
    ids = [row.pk for row in rows]
    delivery.deliver(ids[0])  # already sent: the batch skips it
    counted = django_assert_num_queries(2) if connection.vendor == "postgresql" else contextlib.nullcontext()
    with counted:
        summary = delivery.deliver_many(ids)
    assert "4 success (sent)" in summary
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    assert len(httpserver.log) == 5  # each row sent once
    for row in Notification.objects.filter(pk__in=ids):
        assert row.attempts == 1 and [a.outcome for a in row.attempt_log.all()] == ["success"]
    assert "0 success" not in delivery.deliver_many(ids) and len(httpserver.log) == 5


def test_a_batch_records_failures_like_single_deliveries(endpoint, httpserver):
    httpserver.expect_ordered_request("/hook").respond_with_data("ok")
    httpserver.expect_ordered_request("/hook").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/hook").respond_with_data("gone", status=410)
    ids = [one_row(id=n).pk for n in range(1, 4)]
    delivery.deliver_many(ids)
    statuses = dict(Notification.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [statuses[pk] for pk in ids] == ["sent", "failed", "dead"]
    endpoint.refresh_from_db()
    assert endpoint.active is False and endpoint.total_failures == 2


def test_each_emit_hands_its_rows_off_after_commit_in_one_batch(
    endpoint, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from communications import outbox
    from communications.services import Emission, emit_many
    from tests.communications.factories import make_subject

    sent = []
    monkeypatch.setattr(outbox, "send_now", lambda task, *args, **kw: sent.append((task.name, args)) or True)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        rows = emit_many([Emission("incident.created", make_subject(id=n), {}) for n in range(1, 4)])
        assert not sent  # nothing before the commit
    ids = [row.pk for emitted in rows for row in emitted]
    assert len(ids) >= 3
    assert sent == [("communications.tasks.deliver_notifications", (ids,))]
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        single = one_row(id=9).pk
    assert sent == [("communications.tasks.deliver_notification", (single,))]
