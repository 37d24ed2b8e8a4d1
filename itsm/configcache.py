"""SLA policies (with their calendars) and the priority matrix, cached per process.

Every incident create derives a priority, and every incident list renders ~2 SLA clocks per row,
each needing its policy and business calendar: four queries per list page and one per create
for configuration that administrators change a few times a year. They are loaded once per
process and *configuration version* by an `itsm.procache.VersionedCache` (the house mechanism:
a version key in the shared cache, bumped after commit by signals): saving or deleting a policy,
a calendar, a working period, a holiday or a matrix cell sets a new version once the transaction
commits (this process reloads at once, the others within a second), and `post_migrate` bumps
every per-process cache. A transaction that changed any of them reads the database and caches
nothing; without a shared cache (a per-process LocMem outside tests) every read goes to the
database. Cached instances are shared between requests and threads: read them, never change
or save them.
"""

from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from itsm.choices import DEFAULT_PRIORITY_MATRIX
from itsm.models import BusinessCalendar, Holiday, PriorityMatrixEntry, SlaPolicy, WorkingPeriod
from itsm.procache import VersionedCache

CONFIG = VersionedCache("itsm-config", max_age=3600.0)
WATCHED = (SlaPolicy, BusinessCalendar, WorkingPeriod, Holiday, PriorityMatrixEntry)


@dataclass(frozen=True)
class Snapshot:
    policies: dict[int, SlaPolicy]  # every policy (inactive ones too: old clocks name them), calendar loaded
    matrix: dict[tuple[int, int], int]  # (impact, urgency) -> priority, configured cells only

    def priority_for(self, impact: int, urgency: int) -> int:
        """As `PriorityMatrixEntry.objects.priority_for` (ITIL default for a missing cell)."""
        value = self.matrix.get((impact, urgency))
        return value if value is not None else DEFAULT_PRIORITY_MATRIX[(impact, urgency)]


def with_calendars(policies):
    """SLA policies (a queryset) with their business calendar, working periods and holidays loaded."""
    return policies.select_related("calendar").prefetch_related("calendar__working_periods", "calendar__holidays")


def load() -> Snapshot:
    """Read the configuration from the database (four queries)."""
    policies = {p.pk: p for p in with_calendars(SlaPolicy.objects.all())}
    for policy in policies.values():
        policy.calendar.to_businesstime()  # converted once per snapshot, kept on the instance
    matrix = {(e.impact, e.urgency): e.priority for e in PriorityMatrixEntry.objects.all()}
    return Snapshot(policies, matrix)


def current() -> Snapshot:
    """The configuration as of now (from this process while its version is current)."""
    return CONFIG.get("snapshot", load)


def changed() -> None:
    """The configuration changed in the current transaction: bump the version once it commits."""
    CONFIG.changed()


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
            policy = with_calendars(SlaPolicy.objects).get(pk=clock.policy_id)
        clock.policy = policy


def _changed(sender, **kwargs) -> None:
    changed()


def connect() -> None:
    """Wire the invalidation signals (called from an AppConfig.ready())."""
    for model in WATCHED:
        post_save.connect(_changed, sender=model, dispatch_uid=f"itsm-configcache-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"itsm-configcache-delete-{model.__name__}")
