"""Related incidents of a major incident: link the flood of reports to it, unlink, let them go.

`Incident.major_incident` points at the major incident (the primary incident's too). Every link
and unlink is written on both timelines: `linked`/`unlinked` `{kind: "major_incident", target:
<major incident id>}` on the incident, `{kind: "incident", target, number}` on the major incident.
Bulk work costs a fixed number of queries whatever the number of incidents: one to find them,
one to lock them, one UPDATE, one INSERT per timeline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from incidents import events as incident_events
from incidents.choices import TimelineType
from incidents.major import common, events, policy
from incidents.major.choices import HOLDING_STATES, LIVE_STATES, MajorTimelineType
from incidents.major.choices import MajorIncidentState as S
from incidents.major.models import MajorIncident
from incidents.models import Incident
from itsm.exceptions import Conflict, InvalidTransition

KIND = "major_incident"
# Incidents are linked and unlinked while the response runs and until the review starts.
LINKABLE_STATES = (S.PROPOSED, S.ACTIVE, S.RESOLVED)
NUMBER_RE = re.compile(r"^INC\d{1,12}$", re.IGNORECASE)
ID_MAX = 2**63 - 1


def _check_linkable(mi: MajorIncident, what: str) -> None:
    if mi.state not in LINKABLE_STATES:
        raise InvalidTransition(
            mi.number,
            what,
            mi.state,
            [],
            reason=f"{mi.number} is {mi.state}; incidents are linked and unlinked only while it is "
            "proposed, active or resolved.",
        )


def find_incidents(values: Iterable, field: str = "incidents") -> list[Incident]:
    """The incidents `values` name (instances, ids or numbers), in that order, without repeats.

    One query; a ValidationError on `field` names every value that is no incident.
    """
    values = list(values) if isinstance(values, list | tuple) else None
    if not values:
        raise ValidationError({field: ["A non-empty list of incident ids or numbers."]})
    keys: list[int | str] = []  # ids and numbers, in the order given
    bad: list[str] = []
    for value in values:
        if isinstance(value, Incident):
            keys.append(value.pk)
        elif isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX:
            keys.append(value)
        elif isinstance(value, str) and value.isascii() and value.isdigit() and 1 <= int(value) <= ID_MAX:
            keys.append(int(value))
        elif isinstance(value, str) and NUMBER_RE.match(value):
            keys.append(value.upper())
        else:
            bad.append(repr(value))
    if bad:
        raise ValidationError({field: [f"Not incident ids or numbers: {', '.join(bad)}."]})
    ids = [k for k in keys if isinstance(k, int)]
    numbers = [k for k in keys if isinstance(k, str)]
    found = {}
    for incident in Incident.objects.filter(Q(pk__in=ids) | Q(number__in=numbers)):
        found[incident.pk] = found[incident.number] = incident
    unknown = [str(k) for k in keys if k not in found]
    if unknown:
        raise ValidationError({field: [f"Unknown incident(s): {', '.join(unknown)}."]})
    return list({found[k].pk: found[k] for k in keys}.values())


def _attach(mi: MajorIncident, actor, incidents: list[Incident], *, on_record: bool = True) -> None:
    """Point `incidents` (locked) at `mi`, on both timelines; those taken from another (finished)
    major incident get `unlinked` on its timeline and theirs."""
    if not incidents:
        return
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(
        major_incident=mi, version=F("version") + 1, updated_at=timezone.now()
    )
    rows, record_rows = [], []
    for incident in incidents:
        old = incident.major_incident_id
        if old is not None:
            rows.append(
                incident_events.TIMELINE.row(incident, TimelineType.UNLINKED, actor, {"kind": KIND, "target": old})
            )
            record_rows.append(
                events.TIMELINE.row(
                    old,
                    MajorTimelineType.UNLINKED,
                    actor,
                    {"kind": "incident", "target": incident.pk, "number": incident.number},
                )
            )
        rows.append(incident_events.TIMELINE.row(incident, TimelineType.LINKED, actor, {"kind": KIND, "target": mi.pk}))
        if on_record:
            record_rows.append(
                events.TIMELINE.row(
                    mi,
                    MajorTimelineType.LINKED,
                    actor,
                    {"kind": "incident", "target": incident.pk, "number": incident.number},
                )
            )
        incident.major_incident = mi
        incident.version += 1
    incident_events.write_many(rows)
    events.TIMELINE.write_many(record_rows)


def _detach(mi: MajorIncident, actor, incidents: list[Incident]) -> None:
    """Clear `incidents`' (locked) link to `mi`, on both timelines (the primary's only on its own)."""
    if not incidents:
        return
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(
        major_incident=None, version=F("version") + 1, updated_at=timezone.now()
    )
    incident_events.write_many(
        incident_events.TIMELINE.row(i, TimelineType.UNLINKED, actor, {"kind": KIND, "target": mi.pk})
        for i in incidents
    )
    events.TIMELINE.write_many(
        events.TIMELINE.row(
            mi, MajorTimelineType.UNLINKED, actor, {"kind": "incident", "target": i.pk, "number": i.number}
        )
        for i in incidents
        if i.pk != mi.incident_id
    )
    for incident in incidents:
        incident.major_incident = None
        incident.version += 1


def point_primary(mi: MajorIncident, actor, incident: Incident) -> None:
    """Make the (locked) primary incident show its new major incident (`propose` calls this)."""
    _attach(mi, actor, [incident], on_record=False)


def release_all(mi: MajorIncident, actor) -> list[Incident]:
    """Let every incident of `mi` go, the primary included (`reject` calls this)."""
    incidents = list(Incident.objects.select_for_update().filter(major_incident=mi).order_by("id"))
    _detach(mi, actor, incidents)
    return incidents


@transaction.atomic
def link_incidents(mi: MajorIncident | int, *, actor, incidents: list) -> list[Incident]:
    """Link `incidents` (instances, ids or numbers) to `mi`; the ones newly linked, in the given order.

    Already linked here: nothing to do. Linked to another proposed or active major incident, or
    the primary of another: 409 naming it, and nothing is linked.
    """
    mi = common.lock(mi)
    common.require(policy.can_run(actor, mi))
    _check_linkable(mi, "link")
    wanted = find_incidents(incidents)
    order = {incident.pk: n for n, incident in enumerate(wanted)}
    locked = sorted(
        Incident.objects.select_for_update().filter(pk__in=list(order)).order_by("id"), key=lambda i: order[i.pk]
    )
    others = {i.major_incident_id for i in locked if i.major_incident_id not in (None, mi.pk)}
    live = {m.pk: m for m in MajorIncident.objects.filter(pk__in=others, state__in=LIVE_STATES).only("id", "number")}
    primaries = {
        m.incident_id: m
        for m in MajorIncident.objects.filter(incident_id__in=list(order), state__in=HOLDING_STATES)
        .exclude(pk=mi.pk)
        .only("id", "number", "incident_id")
    }
    conflicts = []
    for incident in locked:
        if incident.major_incident_id == mi.pk:
            continue
        holder = primaries.get(incident.pk) or live.get(incident.major_incident_id)
        if holder is not None:
            conflicts.append(f"{incident.number} belongs to major incident {holder.number}.")
    if conflicts:
        raise Conflict(" ".join(conflicts), errors={"incidents": conflicts})
    new = [i for i in locked if i.major_incident_id != mi.pk]
    if new:
        _attach(mi, actor, new)
        common.save(mi)
    return new


@transaction.atomic
def unlink_incident(mi: MajorIncident | int, *, actor, incident: Incident | int) -> None:
    """Unlink one incident from `mi` (nothing to do if it is not linked); the primary stays (409)."""
    mi = common.lock(mi)
    common.require(policy.can_run(actor, mi))
    _check_linkable(mi, "unlink")
    pk = incident.pk if isinstance(incident, Incident) else incident
    if pk == mi.incident_id:
        number = Incident.objects.filter(pk=pk).values_list("number", flat=True).first()
        message = f"{number} is the primary incident of {mi.number} and cannot be unlinked."
        raise Conflict(message, errors={"incident": [message]})
    locked = list(Incident.objects.select_for_update().filter(pk=pk, major_incident=mi))
    if locked:
        _detach(mi, actor, locked)
        common.save(mi)
