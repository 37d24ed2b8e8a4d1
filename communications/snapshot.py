"""What every emit() reads that administrators rarely change, cached per process.

Active rules (with the ids of their services, groups, named users and endpoints), active
endpoints and active template overrides are loaded once per *configuration version*. The
version lives in Django's cache (Redis in production, shared by every process); saving or
deleting a rule, endpoint or template, changing a rule's m2m, deleting a service, group or user
(their m2m rows go with them), migrating/flushing, and a delivery disabling an endpoint all set a
new version after their transaction commits, so the next emit() in every process reloads.

The mechanism is `itsm.procache.VersionedCache`: inside a transaction that changed the
configuration (its version bump still waits for the commit) emit() reads the database directly
and caches nothing, so it sees its own changes and a rollback leaves nothing stale behind;
without a shared cache (Redis down) every emit() reads the database.

Users are not cached: named users are kept as ids and loaded with the event's other people, so
a deactivated user or a changed address takes effect at once.
"""

from dataclasses import dataclass, field

from django.db.models import prefetch_related_objects

from itsm.procache import VersionedCache

from .models import NotificationRule, NotificationTemplate, WebhookEndpoint


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


# Read the version on every emit (version_ttl=0): a rule change reaches the next emit() in every
# process at once, and one cache GET is small beside an emit. The hour's max age only guards
# against changes that sent no signal (a bulk update()).
CONFIG = VersionedCache("communications-config", max_age=3600.0, version_ttl=0.0)


def bump() -> None:
    """Set a new configuration version now (every process reloads on its next emit())."""
    CONFIG.bump()


def changed() -> None:
    """The configuration changed in the current transaction: bump the version once it commits."""
    CONFIG.changed()


def current() -> Snapshot:
    """The configuration as of now, from the process cache when its version is current."""
    return CONFIG.get("snapshot", load)
