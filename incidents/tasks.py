"""Celery tasks of the incident practice: thin, take ids, idempotent."""

from celery import shared_task
from django.utils import timezone

from incidents import services
from incidents.major import tasks as major_tasks  # noqa: F401  (registers the major incident sweeps)
from incidents.response import jobs as task_jobs  # noqa: F401  (registers the overdue task reminders)
from incidents.sla import firing
from itsm.queue import send_now


@shared_task(acks_late=True, ignore_result=True)
def check_sla_clock(clock_id: int) -> bool:
    """ETA task: fire what is due on one clock (no-op when already fired or rescheduled)."""
    return firing.fire_due(clock_id)


@shared_task(acks_late=True, ignore_result=True)
def fire_sla_clocks(clock_ids: list[int]) -> int:
    """A chunk of the sweep: fired as one batch (firing.fire_many), one by one where the batch cannot."""
    return firing.fire_many(clock_ids)


SWEEP_CHUNK = 100
# One sweep leases the whole backlog a burst can leave (10,000 breaches due at once must not
# wait for the next minute's sweep); the lease (5 min) is far longer than firing them takes.
SWEEP_LIMIT = 20_000


@shared_task(ignore_result=True)
def sweep_sla_clocks(limit: int = SWEEP_LIMIT, inline_below: int = 20, chunk: int = SWEEP_CHUNK) -> int:
    """Every minute: lease clocks whose warning or breach is due and fire them.

    A handful is fired in this task; a larger backlog is published in chunks (fire_sla_clocks) so
    every worker process helps. Clocks published by an earlier sweep are not published again while
    their lease lasts (firing.SWEEP_LEASE). Firing is exactly-once per clock either way (row lock + markers).
    """
    ids = firing.claim_due_clocks(timezone.now(), limit=limit)
    if len(ids) < inline_below:
        firing.fire_many(ids)
    else:
        firing.SWEEP.publish(ids, lambda part: send_now(fire_sla_clocks, part), chunk=chunk)
    return len(ids)


@shared_task(ignore_result=True)
def auto_close_resolved() -> int:
    """Close resolved incidents after the configured delay."""
    return services.auto_close_due()


@shared_task(ignore_result=True)
def remind_on_hold() -> int:
    """Remind assignees of incidents on hold past the configured age (once per hold)."""
    return services.remind_long_holds()
