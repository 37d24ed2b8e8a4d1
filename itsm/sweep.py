"""The leased due-row sweep: claim rows whose time has come, publish them, release what did not go.

Every outbox-like table has the same safety net (SLA clocks, notifications, domain events, and
next the update-cadence reminders, action items and tasks): a beat task finds rows that are due,
hands them to workers, and must never publish a row twice while a worker may still be on it, nor
lose one when the broker is down. `LeasedSweep` is that net, once:

* `claim()` locks due rows with `SELECT ... FOR UPDATE SKIP LOCKED` (rows a worker or another
  sweep holds right now are skipped), skips rows leased within `lease`, and stamps the lease
  column in the same transaction, so the stamp is visible before any message is sent;
* `publish()` hands the ids over in chunks through a callable that reports how many it could
  send, and `release()`s the rest, so the next sweep takes them again;
* the lease only prevents double publication; exactly-once is the row lock and the fired or
  dispatched marker of whoever acts on the row.

On backends without row locks (SQLite, the embedded default) the claim is a plain select and
update inside one transaction, which SQLite serialises anyway.
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.db import models, transaction
from django.db.models import Q


class LeasedSweep:
    """Claim, publish and release the due rows of one model, using a nullable datetime lease column."""

    def __init__(self, model: type[models.Model], *, lease_field: str = "queued_at") -> None:
        self.model = model
        self.lease_field = lease_field

    def claim(self, due: models.QuerySet, *, now: datetime, lease: timedelta, limit: int, order_by: Sequence[str]):
        """Ids of up to `limit` rows of `due` not leased within `lease`, in `order_by` order, now leased at `now`."""
        stale = now - lease
        free = Q(**{f"{self.lease_field}__isnull": True}) | Q(**{f"{self.lease_field}__lt": stale})
        with transaction.atomic():
            ids = list(
                due.filter(free)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by(*order_by)
                .values_list("id", flat=True)[:limit]
            )
            if ids:
                self.model.objects.filter(pk__in=ids).update(**{self.lease_field: now})
        return ids

    def release(self, ids: Sequence[int], *, leased_at: datetime | None = None) -> None:
        """End the lease of `ids` (only the lease stamped at `leased_at`, if given: a newer one is kept)."""
        rows = self.model.objects.filter(pk__in=list(ids))
        if leased_at is not None:
            rows = rows.filter(**{self.lease_field: leased_at})
        rows.update(**{self.lease_field: None})

    def publish(
        self, ids: Sequence[int], send: Callable[[list[int]], bool], *, chunk: int, leased_at: datetime | None = None
    ) -> int:
        """Hand `ids` over `chunk` at a time with `send` (False: the broker refused); release what was not sent.

        Stops at the first refusal (the broker is down: the rest would fail alike). Returns how
        many ids were handed over.
        """
        ids = list(ids)
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            if not send(part):
                self.release(ids[start:], leased_at=leased_at)
                return start
        return len(ids)
