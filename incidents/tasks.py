"""Celery tasks of the incident practice: thin, take ids, idempotent."""

from celery import shared_task
from django.utils import timezone

from incidents import services, sla
from itsm.queue import send_now


@shared_task(acks_late=True, ignore_result=True)
def check_sla_clock(clock_id: int) -> bool:
    """ETA task: fire what is due on one clock (no-op when already fired or rescheduled)."""
    return sla.fire_due(clock_id)


@shared_task(ignore_result=True)
def sweep_sla_clocks(limit: int = 5000, inline_below: int = 20) -> int:
    """Every minute: find clocks whose warning or breach is due and fire them.

    A handful is fired in this task; a larger backlog is fanned out as one task per clock so
    every worker process helps. Firing is exactly-once per clock either way (row lock + markers).
    """
    ids = sla.due_clock_ids(timezone.now(), limit=limit)
    if len(ids) < inline_below:
        for clock_id in ids:
            sla.fire_due(clock_id)
    else:
        for clock_id in ids:
            send_now(check_sla_clock, clock_id)
    return len(ids)


@shared_task(ignore_result=True)
def auto_close_resolved() -> int:
    """Close resolved incidents after the configured delay."""
    return services.auto_close_due()


@shared_task(ignore_result=True)
def remind_on_hold() -> int:
    """Remind assignees of incidents on hold past the configured age (once per hold)."""
    return services.remind_long_holds()
