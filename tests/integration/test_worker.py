"""A task handed to the broker after commit is executed by a real worker on Redis."""

from django.db import transaction

from itsm import events
from itsm.models import DomainEvent
from tests.helpers import wait_for


def test_an_event_published_in_a_transaction_is_dispatched_by_a_real_worker(celery_worker_process):
    with transaction.atomic():
        event = events.publish("test.committed", {"n": 1})  # handed to the broker once this commits
    dispatched = wait_for(lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).first())
    assert dispatched.attempts == 1


def test_sweep_catches_an_event_whose_message_was_lost(celery_worker_process):
    from itsm.tasks import sweep_domain_events

    event = DomainEvent.objects.create(name="lost.message", payload={})  # never handed to the broker
    sweep_domain_events.apply(kwargs={"older_than_seconds": 0})
    wait_for(lambda: DomainEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists())
