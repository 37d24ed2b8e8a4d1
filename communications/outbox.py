"""The outbox's write and hand-off: insert rows, publish their delivery tasks.

Shared by `services` (emit, retry) and `delivery` (sweep, digests), below both: it imports
neither, nor `tasks`. Tasks are published by name (`communications.tasks` registers them; the
app config imports it), so the modules import each other one way only:
`tasks -> delivery -> channels`, `services -> outbox`, `delivery -> outbox`.
"""

import logging
import time

from celery import Task
from django.db import IntegrityError, transaction

from itsm.celery import app
from itsm.queue import send_now

from .models import Notification

logger = logging.getLogger(__name__)

DELIVER_ONE = "communications.tasks.deliver_notification"
DELIVER_BATCH = "communications.tasks.deliver_notifications"
BATCH_SIZE = 50  # ids per delivery task
BREAKER_SECONDS = 5.0
_breaker_until = 0.0  # monotonic time before which a request does not even try the broker


def task(name: str) -> Task:
    """The registered Celery task `name` (registered when `communications.tasks` is imported)."""
    return app.tasks[name]


def insert_rows(rows: list[Notification]) -> list[Notification]:
    """Insert rows whose idempotency key is new; a concurrent twin loses quietly."""
    existing = set(
        Notification.objects.filter(idempotency_key__in=[r.idempotency_key for r in rows]).values_list(
            "idempotency_key", flat=True
        )
    )
    return insert_new_rows([r for r in rows if r.idempotency_key not in existing])


def insert_new_rows(rows: list[Notification]) -> list[Notification]:
    """Insert rows with one statement; if a concurrent twin took a key, row by row (it loses quietly)."""
    if not rows:
        return []
    try:
        with transaction.atomic():
            return Notification.objects.bulk_create(rows)
    except IntegrityError:
        created = []
        for row in rows:
            row.pk = None
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
                created.append(row)
            except IntegrityError:
                continue
        return created


def publish(ids: list[int], *, use_breaker: bool = False) -> int:
    """Publish delivery tasks, one per batch of up to `BATCH_SIZE` ids (a single id: the
    single-id task); never raises. Returns how many ids the broker took.

    Stops at the first failure: the rows are committed, the sweep sends them once the broker is
    back. With `use_breaker` (web requests) a failure also skips the broker for a few seconds,
    so an outage costs requests nothing rather than a connect timeout each.
    """
    global _breaker_until
    if use_breaker and not app.conf.task_always_eager and time.monotonic() < _breaker_until:
        return 0
    for index in range(0, len(ids), BATCH_SIZE):
        batch = ids[index : index + BATCH_SIZE]
        if len(batch) == 1:
            taken = send_now(task(DELIVER_ONE), batch[0])
        else:
            taken = send_now(task(DELIVER_BATCH), batch)
        if not taken:
            if use_breaker:
                _breaker_until = time.monotonic() + BREAKER_SECONDS
            logger.warning("broker unavailable: %d notification(s) left for the sweep", len(ids) - index)
            return index
    return len(ids)


def reset_breaker() -> None:
    """Forget a broker failure (tests, and the sweep once it could publish)."""
    global _breaker_until
    _breaker_until = 0.0
