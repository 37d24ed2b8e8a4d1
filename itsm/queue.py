"""Hand work to Celery after commit, without ever making a web request wait on the broker.

If the broker is down the send fails fast and is logged; the row that describes the work
(outbox notification, domain event, SLA clock) is already committed and a beat sweep picks it up.
"""

import logging
from functools import partial

from django.db import transaction
from kombu.utils.imports import symbol_by_name

logger = logging.getLogger(__name__)


def send_now(task, *args, **options) -> bool:
    """Publish one task (the task, or its dotted name); never raises. False when the broker could not take it.

    A name lets a module queue a task whose module imports it (no import cycle); it is resolved
    when sent, so eager mode in tests runs it as it would the task itself.
    """
    if isinstance(task, str):
        task = symbol_by_name(task)
    try:
        # retry=False: a down broker must cost the web request milliseconds, not the retry policy.
        task.apply_async(args=args, retry=False, **options)
        return True
    except Exception:  # the sweep will re-send; never fail the caller over a side effect
        logger.warning("could not publish %s%r; the sweep will pick it up", task.name, args, exc_info=True)
        return False


def enqueue_on_commit(task, *args, **options) -> None:
    """Publish `task(*args)` once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(partial(send_now, task, *args, **options))
