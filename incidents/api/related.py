"""The related rows an incident representation shows, loaded for a page in two plain queries.

The ORM's prefetch built a model instance per SLA clock (policy joined: its four JSON columns
decoded per clock) and a User per watcher, then cloned a queryset per row to read them back:
that was most of a list page's time. Here the watchers are the m2m table's (incident, user) id
pairs, and the clocks are rows of the columns `incidents.sla.clock_view` reads, with their
policy (and its business calendar, whose value is cached per process) in one more query.
"""

from collections.abc import Sequence

from incidents.models import Incident, SlaClock
from itsm.models import SlaPolicy

# What `sla.clock_view` (and `sla.current_elapsed`) read from a clock, besides `policy`.
CLOCK_COLUMNS = (
    "id",
    "incident_id",
    "policy_id",
    "kind",
    "stage",
    "target_seconds",
    "started_at",
    "elapsed_seconds",
    "paused_seconds",
    "running_since",
    "due_at",
    "breached_at",
    "stopped_at",
)


class ClockRow:
    """A read-only SLA clock for rendering: the columns above plus `policy` (a cached SlaPolicy)."""

    __slots__ = (*CLOCK_COLUMNS, "policy")

    def __init__(self, values: tuple, policy) -> None:
        for name, value in zip(CLOCK_COLUMNS, values, strict=True):
            setattr(self, name, value)
        self.policy = policy


def load(incidents: Sequence[Incident]) -> None:
    """Set `_api_watchers` (user ids) and `_api_clocks` (ClockRows, id order) on each incident."""
    if not incidents:
        return
    by_id = {incident.pk: incident for incident in incidents}
    for incident in incidents:
        incident._api_watchers = []
        incident._api_clocks = []
    through = Incident.watchers.through
    rows = through.objects.filter(incident_id__in=by_id).order_by("user_id").values_list("incident_id", "user_id")
    for incident_id, user_id in rows:
        by_id[incident_id]._api_watchers.append(user_id)
    clocks = list(SlaClock.objects.filter(incident_id__in=by_id).order_by("id").values_list(*CLOCK_COLUMNS))
    ids = {values[2] for values in clocks}
    policies = {p.pk: p for p in SlaPolicy.objects.filter(pk__in=ids).select_related("calendar")} if ids else {}
    for values in clocks:
        row = ClockRow(values, policies[values[2]])
        by_id[row.incident_id]._api_clocks.append(row)


def set_opened(incident: Incident) -> None:
    """What `services.open_incident` attached (its clocks, policies loaded; its watchers), as `load` would set."""
    incident._api_watchers = list(incident.opened_watcher_ids)
    incident._api_clocks = list(incident.opened_clocks)


def forget(incident: Incident) -> None:
    """Drop what `load` set (the incident changed: its clocks and watchers are read again)."""
    incident.__dict__.pop("_api_watchers", None)
    incident.__dict__.pop("_api_clocks", None)
