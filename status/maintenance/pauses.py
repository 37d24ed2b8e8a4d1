"""The status app's SLA pause source: maintenance windows with `pause_sla` (registered with
`incidents.sla.pauses` by `status.maintenance.registrations`).

A window pauses the clocks of incidents on its services over [starts_at, ends_at] (a window
cancelled while it ran: up to its cancellation; one cancelled before it started: never). The
intervals are a function of the window's times, not of when the sweep noticed them, so a replay
is exact whatever the sweep's delay.

The source is asked on every incident create and transition, so it answers from a per-process
`VersionedCache` of the pausing windows that end after `LOOKBACK` before the load: no query per
incident (one per process and change). Only a clock started before that horizon (an incident
open for more than a week) reads the database. Every write of a window bumps the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from itsm.procache import VersionedCache
from status.choices import MaintenanceState as M

LOOKBACK = timedelta(days=7)
CACHE = VersionedCache("maintenance-pauses", max_age=300.0)

Row = tuple[frozenset[int], datetime, datetime, str]


def number(window) -> str:
    """The window's human number (`MNT0000012`)."""
    return f"MNT{window.pk:07d}"


def interval(window) -> tuple[datetime, datetime] | None:
    """The time a window pauses SLA clocks (ignoring `pause_sla`), or None."""
    if window.state == M.CANCELLED:
        if window.started_at is None or window.cancelled_at is None:
            return None
        return (window.starts_at, min(window.ends_at, window.cancelled_at))
    return (window.starts_at, window.ends_at)


def _rows(queryset) -> list[Row]:
    from status.models import MaintenanceWindow

    windows = list(queryset.filter(pause_sla=True))
    through = MaintenanceWindow.services.through.objects.filter(maintenancewindow_id__in=[w.pk for w in windows])
    services: dict[int, set[int]] = {}
    for window_id, service_id in through.values_list("maintenancewindow_id", "service_id"):
        services.setdefault(window_id, set()).add(service_id)
    out = []
    for window in windows:
        span = interval(window)
        if span is not None and span[0] < span[1]:
            out.append((frozenset(services.get(window.pk, ())), *span, f"maintenance {number(window)}: {window.title}"))
    return out


def _load() -> tuple[datetime, list[Row]]:
    from status.models import MaintenanceWindow

    covers_from = timezone.now() - LOOKBACK
    return covers_from, _rows(MaintenanceWindow.objects.filter(ends_at__gt=covers_from))


def maintenance_pauses(service_ids: Sequence[int], start: datetime, end: datetime) -> list[tuple]:
    """The pause source: (start, end, reason) of pausing windows on `service_ids` overlapping [start, end]."""
    covers_from, rows = CACHE.get("windows", _load)
    if start < covers_from:
        from status.models import MaintenanceWindow

        rows = _rows(MaintenanceWindow.objects.filter(services__in=list(service_ids), ends_at__gt=start).distinct())
    wanted = set(service_ids)
    return [(s, e, reason) for ids, s, e, reason in rows if ids & wanted and s <= end and e > start]


def changed() -> None:
    """A window was written: this process forgets its entries now, every process after commit."""
    CACHE.clear()
    CACHE.changed()
