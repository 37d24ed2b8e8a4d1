"""A service's level on the public status page, derived from what is going on now.

Active public major incidents set the level of their affected services: the record's
`status_level` when set, else from the primary incident's priority (P1 major outage, P2 partial
outage, anything else degraded). A maintenance window running now (scheduled or in progress,
`starts_at <= now < ends_at`) sets `maintenance`, unless an outage (partial or major) is worse.
The worst level wins. Pure functions: the page builder hands in what it read.
"""

from __future__ import annotations

from collections.abc import Iterable

from incidents.major.choices import StatusLevel

L = StatusLevel

# Worst last. Maintenance outranks "degraded" (planned work explains slowness) but an outage
# during maintenance is still shown as the outage.
RANK: dict[str, int] = {
    L.OPERATIONAL: 0,
    L.DEGRADED: 1,
    L.MAINTENANCE: 2,
    L.PARTIAL_OUTAGE: 3,
    L.MAJOR_OUTAGE: 4,
}
LABELS: dict[str, str] = dict(L.choices)
# The banner's sentence for the worst level on the page.
BANNER: dict[str, str] = {
    L.OPERATIONAL: "All systems operational",
    L.DEGRADED: "Some systems are experiencing degraded performance",
    L.MAINTENANCE: "Scheduled maintenance in progress",
    L.PARTIAL_OUTAGE: "Partial outage",
    L.MAJOR_OUTAGE: "Major outage",
}


def level_of_major_incident(status_level: str, priority: int | None) -> str:
    """The level a major incident gives its services: its override, else from the priority."""
    if status_level:
        return status_level
    if priority == 1:
        return L.MAJOR_OUTAGE
    if priority == 2:
        return L.PARTIAL_OUTAGE
    return L.DEGRADED


def worst(levels: Iterable[str]) -> str:
    """The worst of `levels` (operational when there are none)."""
    return max(levels, key=RANK.__getitem__, default=L.OPERATIONAL)


def service_level(incident_levels: Iterable[str], in_maintenance: bool) -> str:
    """One service's level: the worst incident level, or maintenance when nothing worse runs."""
    levels = list(incident_levels)
    if in_maintenance:
        levels.append(L.MAINTENANCE)
    return worst(levels)
