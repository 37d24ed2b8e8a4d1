"""Celery task of the post-incident review: the overdue action item reminder (beat, hourly).

Thin: the sweep (`review.remind_overdue_action_items`) reminds each overdue item at most once a
day, so running it every hour only catches items soon after their day starts and retries a run a
broker or worker outage missed. Registered with the worker by `incidents.major.tasks`, which
imports this module.
"""

from celery import shared_task

from incidents.major import review


@shared_task(ignore_result=True)
def remind_action_items() -> int:
    """Remind the owners of overdue open action items (once per item and day); returns how many."""
    return review.remind_overdue_action_items()
