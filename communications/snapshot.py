"""What every emit() reads that administrators rarely change, cached per process.

Active rules (with the ids of their services, groups, named users and endpoints), active
endpoints and active template overrides are loaded once per *configuration version*. The
version lives in Django's cache (Redis in production, shared by every process); saving or
deleting a rule, endpoint or template, changing a rule's m2m, deleting a service, group or user
(their m2m rows go with them), migrating/flushing, and a delivery disabling an endpoint all set a
new version after their transaction commits, so the next emit() in every process reloads.

Inside a transaction that changed the configuration (its version bump is still waiting for the
commit) emit() reads the database directly and caches nothing: it sees its own changes, and a
rollback leaves nothing stale behind. Without a cache (outage: django-redis ignores errors and
returns None) every emit() reads the database, as before.

Users are not cached: named users are kept as ids and loaded with the event's other people, so
a deactivated user or a changed address takes effect at once.
"""

import threading
import uuid
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import transaction
from django.db.models import prefetch_related_objects

from .models import NotificationRule, NotificationTemplate, WebhookEndpoint

VERSION_KEY = "communications:config-version"


@dataclass(frozen=True)
class Snapshot:
    rules: list[NotificationRule]  # active, `services` and `groups` prefetched (ids only matter)
    user_ids: dict[int, list[int]]  # rule id -> named users, in the order the m2m returns them
    endpoint_ids: dict[int, list[int]]  # rule id -> endpoints, in the order the m2m returns them
    endpoints: dict[int, WebhookEndpoint]  # active endpoints by id, in id order
    templates: dict[str, dict[str, NotificationTemplate]] = field(default_factory=dict)  # event -> channel -> active

    def rule_endpoints(self, rule: NotificationRule) -> list[WebhookEndpoint]:
        """The rule's endpoints that are active."""
        return [self.endpoints[i] for i in self.endpoint_ids.get(rule.pk, ()) if i in self.endpoints]


def load() -> Snapshot:
    rules = list(NotificationRule.objects.filter(active=True))
    prefetch_related_objects(rules, "services", "groups")
    user_ids: dict[int, list[int]] = {r.pk: [] for r in rules}
    endpoint_ids: dict[int, list[int]] = {r.pk: [] for r in rules}
    if rules:
        for ids, descriptor in ((user_ids, NotificationRule.users), (endpoint_ids, NotificationRule.endpoints)):
            rule_column = descriptor.field.m2m_column_name()
            other_column = descriptor.field.m2m_reverse_name()
            rows = descriptor.through.objects.filter(**{f"{rule_column}__in": list(ids)})
            for rule_id, other_id in rows.order_by(other_column).values_list(rule_column, other_column):
                ids[rule_id].append(other_id)
    endpoints = {e.pk: e for e in WebhookEndpoint.objects.filter(active=True).order_by("id")}
    templates: dict[str, dict[str, NotificationTemplate]] = {}
    for template in NotificationTemplate.objects.filter(active=True):
        templates.setdefault(template.event, {})[template.channel] = template
    return Snapshot(rules, user_ids, endpoint_ids, endpoints, templates)


_lock = threading.Lock()
_cached: tuple[str, Snapshot] | None = None


class _Bump:
    """An after-commit hook setting a new configuration version (one per transaction)."""

    def __call__(self) -> None:
        bump()


def bump() -> None:
    """Set a new configuration version now (every process reloads on its next emit())."""
    global _cached
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    with _lock:
        _cached = None


def changed() -> None:
    """The configuration changed in the current transaction: bump the version once it commits."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and _pending(connection):
        return
    transaction.on_commit(_Bump())


def _pending(connection) -> bool:
    return any(isinstance(hook, _Bump) for _, hook, _ in connection.run_on_commit)


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
