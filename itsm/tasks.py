"""Celery tasks of the shared core: domain event dispatch, its safety-net sweep and the purge."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from itsm import events
from itsm.models import DomainEvent
from itsm.queue import send_now
from itsm.sweep import LeasedSweep


@shared_task(acks_late=True, ignore_result=True)
def dispatch_domain_event(event_id: int) -> bool:
    """Dispatch one domain event to its subscribers (no-op if already dispatched)."""
    return events.dispatch(event_id)


SWEEP = LeasedSweep(DomainEvent)
SWEEP_LEASE = timedelta(minutes=5)  # a re-sent event is not re-sent again before this


@shared_task(ignore_result=True)
def sweep_domain_events(older_than_seconds: int = 30, limit: int = 500) -> int:
    """Re-send events whose after-commit hand-off was lost (broker down, worker killed); returns how many."""
    now = timezone.now()
    due = DomainEvent.objects.undispatched().filter(
        created_at__lt=now - timedelta(seconds=older_than_seconds), attempts__lt=20
    )
    ids = SWEEP.claim(due, now=now, lease=SWEEP_LEASE, limit=limit, order_by=("created_at", "id"))
    SWEEP.publish(ids, lambda part: send_now(dispatch_domain_event, part[0]), chunk=1, leased_at=now)
    return len(ids)


@shared_task(ignore_result=True)
def purge_domain_events(older_than_days: int = 7, batch: int = 10_000) -> int:
    """Delete dispatched events older than `older_than_days` (every incident create writes one).

    Pending events are never deleted: the sweep still owes them a dispatch. Deletes in batches
    of `batch` rows so one run never holds a long transaction. Returns how many were deleted.
    """
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted = 0
    while True:
        ids = list(
            DomainEvent.objects.filter(dispatched_at__isnull=False, dispatched_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += DomainEvent.objects.filter(id__in=ids).delete()[0]
