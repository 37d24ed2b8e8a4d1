"""Celery tasks of major incident management: thin, idempotent (the services lock and mark)."""

from celery import shared_task
from django.utils import timezone

from incidents.major import responders, updates


@shared_task(ignore_result=True)
def sweep_major_incidents() -> dict[str, int]:
    """Every minute: the major incident sweeps, one call each (each is exactly-once on its own)."""
    now = timezone.now()
    return {
        "repaged": responders.repage_due(now),
        "update_reminders": updates.remind_overdue_updates(now),
    }
