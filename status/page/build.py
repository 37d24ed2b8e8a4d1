"""What the public status page shows, read from the database into plain data (no model objects).

Only public facts leave this module: a service's `public_name`/`public_description` (never its
internal name's description, hostnames or owner), a major incident's number, title, times and
EXTERNAL updates (never internal updates, staff, bridge, chat channel or the primary incident's
number), maintenance windows' title and public text. Templates and the feed render this data,
so rendering runs no query and cannot reach anything internal.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Prefetch, Q
from django.utils import timezone

from incidents.major.choices import Audience, MajorIncidentState, UpdateStatus
from incidents.major.models import MajorIncident, StakeholderUpdate
from itsm.models import Service
from status.choices import MaintenanceState
from status.models import MaintenanceWindow, StatusPageEntry, StatusPageGroup
from status.page import availability, levels

HISTORY_DAYS = 14
OTHER_GROUP = "Other services"
# Declared records (a proposal or a rejection never shows).
DECLARED_STATES = [
    MajorIncidentState.ACTIVE,
    MajorIncidentState.RESOLVED,
    MajorIncidentState.IN_REVIEW,
    MajorIncidentState.CLOSED,
]
UPCOMING_MAINTENANCE = [MaintenanceState.SCHEDULED, MaintenanceState.IN_PROGRESS]
STATUS_LABELS = dict(UpdateStatus.choices)


@dataclass
class PublicUpdate:
    """One external update as the public reads it."""

    id: int
    status: str
    status_label: str
    body: str
    posted_at: datetime


@dataclass
class PublicIncident:
    """A public major incident: number, title, times, affected public services, external updates."""

    id: int
    number: str
    title: str
    state: str
    level: str
    level_label: str
    declared_at: datetime | None
    resolved_at: datetime | None
    next_update_due_at: datetime | None
    services: list[str]
    updates: list[PublicUpdate]  # newest first

    @property
    def final_update(self) -> PublicUpdate | None:
        return self.updates[0] if self.updates else None


@dataclass
class PublicMaintenance:
    """An announced maintenance window that has not ended."""

    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    running: bool
    services: list[str]
    updated_at: datetime


@dataclass
class PublicService:
    """One service row: public name and description, level and its 90-day availability."""

    id: int
    slug: str
    name: str
    description: str
    level: str
    level_label: str
    availability: availability.Availability


@dataclass
class PublicGroup:
    name: str
    description: str
    services: list[PublicService] = field(default_factory=list)


@dataclass
class StatusPage:
    """Everything the page and the feed render, with `now` and when it stops being true."""

    now: datetime
    level: str
    banner: str
    groups: list[PublicGroup]
    active: list[PublicIncident]
    history: list[PublicIncident]
    maintenance: list[PublicMaintenance]
    next_change_at: datetime | None  # the next maintenance start or end: the cache must not outlive it

    @property
    def services(self) -> list[PublicService]:
        return [s for g in self.groups for s in g.services]


def visible_services() -> tuple[list[Service], dict[int, StatusPageEntry]]:
    """Active services that are not hidden, and their entries by service id (one query)."""
    services = list(
        Service.objects.filter(active=True)
        .exclude(status_entry__hidden=True)
        .select_related("status_entry", "status_entry__group")
        .order_by("name", "id")
    )
    entries = {}
    for service in services:
        try:
            entries[service.pk] = service.status_entry
        except StatusPageEntry.DoesNotExist:
            pass
    return services, entries


def public_name(service: Service, entries: dict[int, StatusPageEntry]) -> str:
    entry = entries.get(service.pk)
    return (entry.public_name if entry else "") or service.name


def _incidents(now: datetime) -> list[MajorIncident]:
    """Active public major incidents and those declared or resolved in the last 14 days and the
    whole 90-day window of the bars (with external updates and affected service ids)."""
    since = now - timedelta(days=availability.DAYS)
    external = StakeholderUpdate.objects.filter(audience=Audience.EXTERNAL).order_by("-posted_at", "-id")
    return list(
        MajorIncident.objects.filter(public=True, state__in=DECLARED_STATES)
        .filter(Q(state=MajorIncidentState.ACTIVE) | Q(resolved_at__gte=since))
        .select_related("incident")
        .only(
            "id",
            "number",
            "title",
            "state",
            "status_level",
            "impact_started_at",
            "declared_at",
            "resolved_at",
            "next_update_due_at",
            "incident__priority",
        )
        .prefetch_related(
            Prefetch("updates", queryset=external, to_attr="external_updates"),
            Prefetch("affected_services", queryset=Service.objects.only("id"), to_attr="service_rows"),
        )
        .order_by("-declared_at", "-id")
    )


def _windows(now: datetime) -> list[MaintenanceWindow]:
    since = now - timedelta(days=availability.DAYS)
    return list(
        MaintenanceWindow.objects.exclude(state=MaintenanceState.CANCELLED)
        .filter(ends_at__gte=since)
        .prefetch_related(Prefetch("services", queryset=Service.objects.only("id"), to_attr="service_rows"))
        .order_by("starts_at", "id")
    )


def _public_incident(mi: MajorIncident, names: dict[int, str]) -> PublicIncident:
    level = levels.level_of_major_incident(mi.status_level, mi.incident.priority if mi.incident_id else None)
    return PublicIncident(
        id=mi.pk,
        number=mi.number,
        title=mi.title,
        state=mi.state,
        level=level,
        level_label=levels.LABELS[level],
        declared_at=mi.declared_at,
        resolved_at=mi.resolved_at,
        next_update_due_at=mi.next_update_due_at if mi.state == MajorIncidentState.ACTIVE else None,
        services=[names[s.pk] for s in mi.service_rows if s.pk in names],
        updates=[
            PublicUpdate(u.pk, u.status, STATUS_LABELS.get(u.status, u.status), u.body, u.posted_at)
            for u in mi.external_updates
        ],
    )


def build(now: datetime | None = None) -> StatusPage:
    """Read the status page from the database (a fixed handful of queries, whatever the size)."""
    now = now or timezone.now()
    services, entries = visible_services()
    names = {s.pk: public_name(s, entries) for s in services}
    incidents = _incidents(now)
    windows = _windows(now)

    incident_levels: dict[int, list[str]] = defaultdict(list)
    impacts: dict[int, list[availability.Interval]] = defaultdict(list)
    for mi in incidents:
        level = levels.level_of_major_incident(mi.status_level, mi.incident.priority if mi.incident_id else None)
        start = mi.impact_started_at or mi.declared_at
        end = mi.resolved_at or now
        for service in mi.service_rows:
            if mi.state == MajorIncidentState.ACTIVE:
                incident_levels[service.pk].append(level)
            if start is not None:
                impacts[service.pk].append((start, end))

    in_maintenance: set[int] = set()
    maintenance: dict[int, list[availability.Interval]] = defaultdict(list)
    upcoming: list[PublicMaintenance] = []
    boundaries: list[datetime] = []
    for window in windows:
        running = window.state in UPCOMING_MAINTENANCE and window.starts_at <= now < window.ends_at
        ids = [s.pk for s in window.service_rows]
        end = window.completed_at if window.state == MaintenanceState.COMPLETED and window.completed_at else None
        for pk in ids:
            maintenance[pk].append((window.starts_at, min(end or window.ends_at, window.ends_at)))
            if running:
                in_maintenance.add(pk)
        if window.state in UPCOMING_MAINTENANCE and window.ends_at > now:
            boundaries += [b for b in (window.starts_at, window.ends_at) if b > now]
            upcoming.append(
                PublicMaintenance(
                    id=window.pk,
                    title=window.title,
                    description=window.description,
                    starts_at=window.starts_at,
                    ends_at=window.ends_at,
                    running=running,
                    services=[names[pk] for pk in ids if pk in names],
                    updated_at=window.updated_at,
                )
            )

    groups = {g.pk: PublicGroup(g.name, g.description) for g in StatusPageGroup.objects.order_by("position", "name")}
    other = PublicGroup(OTHER_GROUP, "")
    ordered = sorted(
        services,
        key=lambda s: (entries[s.pk].position, entries[s.pk].pk) if s.pk in entries else (10**9, 0),
    )
    for service in ordered:
        entry = entries.get(service.pk)
        level = levels.service_level(incident_levels.get(service.pk, []), service.pk in in_maintenance)
        row = PublicService(
            id=service.pk,
            slug=service.slug,
            name=names[service.pk],
            description=entry.public_description if entry else "",
            level=level,
            level_label=levels.LABELS[level],
            availability=availability.availability(impacts.get(service.pk, []), maintenance.get(service.pk, []), now),
        )
        group = groups.get(entry.group_id) if entry and entry.group_id else None
        (group or other).services.append(row)
    shown = [g for g in groups.values() if g.services] + ([other] if other.services else [])

    page_level = levels.worst(s.level for g in shown for s in g.services)
    history_since = now - timedelta(days=HISTORY_DAYS)
    public = [_public_incident(mi, names) for mi in incidents]
    return StatusPage(
        now=now,
        level=page_level,
        banner=levels.BANNER[page_level],
        groups=shown,
        active=[p for p in public if p.state == MajorIncidentState.ACTIVE],
        history=[
            p
            for p in public
            if p.state != MajorIncidentState.ACTIVE
            and (
                (p.declared_at and p.declared_at >= history_since) or (p.resolved_at and p.resolved_at >= history_since)
            )
        ],
        maintenance=upcoming,
        next_change_at=min(boundaries, default=None),
    )
