"""Celery tasks of the status app (thin: the work is in the services)."""

from celery import shared_task

from status.maintenance import services


@shared_task(ignore_result=True)
def sweep_maintenance() -> dict:
    """Start maintenance windows whose start has come and complete those whose end has passed.

    Idempotent and safe to run twice at once: each window is locked (skipping one another sweep
    holds) and re-checked before its transition.
    """
    started, completed = services.sweep()
    return {"started": started, "completed": completed}
