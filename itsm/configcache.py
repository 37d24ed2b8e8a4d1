"""SLA policies (with their calendars) and the priority matrix, cached per process.

Every incident create derives a priority, and every incident list renders ~2 SLA clocks per row,
each needing its policy and business calendar: four queries per list page and one per create
for configuration that administrators change a few times a year. They are loaded once per
*configuration version*, the house pattern of `communications.snapshot`: the version lives in
Django's cache (Redis in production, shared by every process); saving or deleting a policy, a
calendar, a working period, a holiday or a matrix cell, and migrating, set a new version after
the transaction commits, so the next read in every process reloads.

A transaction that changed any of them (its bump is still waiting for the commit) reads the
database and caches nothing; without a cache (outage) every read goes to the database.
Cached instances are shared between requests: read them, never change or save them.
"""

import threading
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from itsm.choices import DEFAULT_PRIORITY_MATRIX
from itsm.models import BusinessCalendar, Holiday, PriorityMatrixEntry, SlaPolicy, WorkingPeriod

VERSION_KEY = "itsm:config-version"
WATCHED = (SlaPolicy, BusinessCalendar, WorkingPeriod, Holiday, PriorityMatrixEntry)


@dataclass(frozen=True)
class Snapshot:
    policies: dict[int, SlaPolicy]  # every policy (inactive ones too: old clocks name them), calendar loaded
    matrix: dict[tuple[int, int], int]  # (impact, urgency) -> priority, configured cells only

    def priority_for(self, impact: int, urgency: int) -> int:
        """As `PriorityMatrixEntry.objects.priority_for` (ITIL default for a missing cell)."""
        value = self.matrix.get((impact, urgency))
        return value if value is not None else DEFAULT_PRIORITY_MATRIX[(impact, urgency)]


def load() -> Snapshot:
    """Read the configuration from the database (four queries)."""
    policies = {
        p.pk: p
        for p in SlaPolicy.objects.select_related("calendar").prefetch_related(
            "calendar__working_periods", "calendar__holidays"
        )
    }
    for policy in policies.values():
        policy.calendar.to_businesstime()  # converted once per snapshot, kept on the instance
    matrix = {(e.impact, e.urgency): e.priority for e in PriorityMatrixEntry.objects.all()}
    return Snapshot(policies, matrix)


_lock = threading.Lock()
_cached: tuple[str, Snapshot] | None = None


class _Bump:
    """An after-commit hook setting a new version (one per transaction)."""

    def __call__(self) -> None:
        bump()


def bump() -> None:
    """Set a new configuration version now (every process reloads on its next read)."""
    global _cached
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    with _lock:
        _cached = None


def _pending(connection) -> bool:
    return any(isinstance(hook, _Bump) for _, hook, _ in connection.run_on_commit)


def changed() -> None:
    """The configuration changed in the current transaction: bump the version once it commits."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and _pending(connection):
        return
    transaction.on_commit(_Bump())


def current() -> Snapshot:
    """The configuration as of now, from the process cache when its version is current."""
    global _cached
    connection = transaction.get_connection()
    if connection.in_atomic_block and _pending(connection):
        return load()  # this transaction changed it: read its own state, cache nothing
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(VERSION_KEY)
        if version is None:  # no cache: nothing can tell us when to reload
            return load()
    cached = _cached
    if cached is not None and cached[0] == version:
        return cached[1]
    snapshot = load()
    with _lock:
        _cached = (version, snapshot)
    return snapshot


def priority_for(impact: int, urgency: int) -> int:
    """The priority of an impact and urgency through the configured matrix."""
    return current().priority_for(impact, urgency)


def attach_policies(clocks) -> None:
    """Give SLA clocks their policy (with its calendar) from the snapshot instead of a join.

    A policy missing from the snapshot (created by this very transaction) is read from the database.
    """
    policies = current().policies
    for clock in clocks:
        policy = policies.get(clock.policy_id)
        if policy is None:
            policy = (
                SlaPolicy.objects.select_related("calendar")
                .prefetch_related("calendar__working_periods", "calendar__holidays")
                .get(pk=clock.policy_id)
            )
        clock.policy = policy


def _changed(sender, **kwargs) -> None:
    changed()


def _migrated(sender, **kwargs) -> None:
    bump()  # migrate / flush may have rewritten the tables without signals


def connect() -> None:
    """Wire the invalidation signals (called from an AppConfig.ready())."""
    for model in WATCHED:
        post_save.connect(_changed, sender=model, dispatch_uid=f"itsm-configcache-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"itsm-configcache-delete-{model.__name__}")
    post_migrate.connect(_migrated, dispatch_uid="itsm-configcache-migrate")
