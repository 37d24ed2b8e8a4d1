"""Named domain events across apps: publish inside a transaction, handled after commit.

A reaction that runs against the import arrows (a closed major incident opening a problem)
goes through here: the left-hand app publishes, the right-hand app subscribes in
`AppConfig.ready()`. Events are rows (`DomainEvent`), so none is lost if the broker is down.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from itsm.models import DomainEvent
from itsm.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

Handler = Callable[[DomainEvent], None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)
DISPATCH_TASK = "itsm.tasks.dispatch_domain_event"  # by name: the tasks module imports this one


def subscribe(name: str, handler: Handler) -> None:
    """Register `handler` for events called `name` ("*" for all). Call from AppConfig.ready()."""
    if handler not in _subscribers[name]:
        _subscribers[name].append(handler)


def publish(name: str, payload: dict) -> DomainEvent:
    """Record an event in the current transaction and dispatch it once that commits."""
    event = DomainEvent.objects.create(name=name, payload=payload)
    enqueue_on_commit(DISPATCH_TASK, event.pk)
    return event


def dispatch(event_id: int) -> bool:
    """Run every subscriber of one event exactly once; False if it was already dispatched."""
    with transaction.atomic():
        event = DomainEvent.objects.select_for_update().filter(pk=event_id, dispatched_at__isnull=True).first()
        if event is None:
            return False
        event.attempts += 1
        try:
            for handler in [*_subscribers.get(event.name, []), *_subscribers.get("*", [])]:
                with transaction.atomic():
                    handler(event)
        except Exception as exc:
            logger.exception("domain event %s failed", event)
            event.last_error = repr(exc)[:2000]
            event.save(update_fields=["attempts", "last_error"])
            return False
        event.dispatched_at = timezone.now()
        event.last_error = ""
        event.save(update_fields=["attempts", "last_error", "dispatched_at"])
        return True
