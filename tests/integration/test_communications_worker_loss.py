"""(b) A worker SIGKILLed mid-delivery (a slow receiver): after a new worker starts, the delivery
completes once, with the same delivery id, so the receiver can drop the repeat."""

import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from communications.models import Notification, NotificationRule
from communications.tasks import sweep_notifications
from itsm.queue import send_now
from tests.communications.live import Recorder, Worker, emit_one, endpoint_at, http_receiver
from tests.helpers import wait_for

SECRET = "integration-secret-0123"


@pytest.fixture
def workers(transactional_db, redis_url, settings, tmp_path):
    """Start workers on demand (each in its own process group); all killed at teardown."""
    redis.Redis.from_url(redis_url).flushdb()
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    NotificationRule.objects.all().delete()
    started: list[Worker] = []

    def start() -> Worker:
        # A lost worker is declared after 1 s without a result (the default is minutes).
        started.append(Worker(tmp_path / "worker.log", NOTIFICATION_SENDING_TIMEOUT_SECONDS="1").start())
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def test_a_worker_killed_mid_delivery_is_replaced_and_delivers_once(workers):
    recorder = Recorder(first_delay=2)  # the first attempt hangs: the worker dies while waiting
    with http_receiver() as receiver:
        endpoint_at(receiver, recorder, SECRET)
        first = workers()

        row = emit_one()[0]
        wait_for(lambda: recorder.requests)
        assert Notification.objects.get(pk=row.pk).status == "sending"
        first.kill()  # SIGKILL: no result recorded, no ack sent

        workers()
        # Until the sending timeout (1 s) has passed since the claim, the sweep rightly leaves the
        # row alone. Compare with the time of each check: a cut-off taken once, before the wait,
        # only held when the new worker took over 1.1 s to start (and never held otherwise).
        claimed_at = Notification.objects.get(pk=row.pk).sending_started_at
        wait_for(lambda: timezone.now() - claimed_at > timedelta(seconds=1.1), timeout=5)
        assert send_now(sweep_notifications)  # beat's sweep, on the new worker, notices the lost one
        wait_for(lambda: Notification.objects.get(pk=row.pk).status == "sent")

        row.refresh_from_db()
        assert row.attempts == 2
        assert [a.outcome for a in row.attempt_log.all()] == ["interrupted", "success"]
        assert recorder.delivery_ids() == [str(row.delivery_id)] * 2  # the receiver can drop the repeat
        time.sleep(0.5)
        assert len(recorder.requests) == 2
