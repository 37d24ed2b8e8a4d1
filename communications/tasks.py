"""Celery tasks of communications: thin, they take ids and call `delivery`.

Nothing in the app imports this module except its app config (to register the tasks): the
outbox publishes them by name (`outbox.DELIVER_ONE`, `outbox.DELIVER_BATCH`)."""

from celery import shared_task

from . import delivery


@shared_task(name="communications.tasks.deliver_notification", acks_late=True, ignore_result=True)
def deliver_notification(notification_id: int) -> str:
    """Deliver one outbox row if it is still due (idempotent: a repeat exits early)."""
    return delivery.deliver(notification_id)


@shared_task(name="communications.tasks.deliver_notifications", acks_late=True, ignore_result=True)
def deliver_notifications(notification_ids: list[int]) -> str:
    """Deliver a batch of outbox rows (up to outbox.BATCH_SIZE), each if it is still due."""
    return delivery.deliver_many(notification_ids)


@shared_task(name="communications.tasks.sweep_notifications", ignore_result=True)
def sweep_notifications() -> dict:
    """Beat, every minute: re-queue lost hand-offs and due retries, recover interrupted
    deliveries, build digests."""
    return delivery.sweep()
