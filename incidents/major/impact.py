"""Business impact of a major incident: its milestones, the times between them, and what it cost.

`estimated_cost` is the downtime cost (API.md): impact duration in hours x the sum of the
affected services' `downtime_cost_per_hour`. `response_effort_cost` is the responders' engaged
time x the configured hourly rate, shown separately and never added into `estimated_cost`.
Both are Decimals (never floats) quantized to cents, live while the major incident runs and
frozen into the record at resolve (`lifecycle` stores them; this module reads them back).

Reads `mi.affected_services.all()` and `mi.responders.all()`, so a prefetched record costs no
query; the hourly rate comes from `MajorIncidentSettings` unless the caller passes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from incidents.major.choices import LIVE_STATES
from incidents.major.choices import MajorIncidentState as S
from incidents.major.models import MajorIncident, MajorIncidentSettings

CENT = Decimal("0.01")
SECONDS_PER_HOUR = Decimal(3600)
# States in which the costs are frozen on the record (computed once, at resolve).
FROZEN_STATES = (S.RESOLVED, S.IN_REVIEW, S.CLOSED)


@dataclass(frozen=True)
class BusinessImpact:
    """The milestones of a major incident, the intervals between them and its two costs."""

    impact_started_at: datetime | None
    detected_at: datetime | None
    declared_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    time_to_detect: timedelta | None
    time_to_declare: timedelta | None
    time_to_mitigate: timedelta | None
    time_to_restore: timedelta | None
    duration: timedelta | None
    estimated_cost: Decimal
    response_effort_cost: Decimal
    live: bool


def _between(start: datetime | None, end: datetime | None) -> timedelta | None:
    return end - start if start is not None and end is not None else None


def seconds(delta: timedelta) -> Decimal:
    """A timedelta's length in seconds as an exact Decimal (microseconds included)."""
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / Decimal(1_000_000)


def cost(delta: timedelta | None, hourly_rate: Decimal) -> Decimal:
    """`delta` (negative counts as nothing) at `hourly_rate`, rounded half up to the cent."""
    if delta is None or delta <= timedelta(0):
        return Decimal("0.00")
    return (seconds(delta) * hourly_rate / SECONDS_PER_HOUR).quantize(CENT, rounding=ROUND_HALF_UP)


def impact_end(mi: MajorIncident, now: datetime) -> datetime | None:
    """Where the impact duration ends: resolution, the rejection, or now while the record runs."""
    if mi.resolved_at is not None:
        return mi.resolved_at
    if mi.state == S.REJECTED:
        return mi.rejected_at
    return now


def downtime_cost(mi: MajorIncident, duration: timedelta | None) -> Decimal:
    """Duration x the sum of the affected services' downtime cost per hour."""
    rate = sum((s.downtime_cost_per_hour or Decimal(0) for s in mi.affected_services.all()), Decimal(0))
    return cost(duration, rate)


def engaged_time(mi: MajorIncident, now: datetime) -> timedelta:
    """The responders' engaged time summed: from acknowledgement (or the page) to release.

    A responder still engaged counts until the resolution, or until now while it runs.
    """
    end_default = mi.resolved_at or now
    total = timedelta(0)
    for responder in mi.responders.all():
        start = responder.acknowledged_at or responder.paged_at
        if start is None:
            continue
        end = responder.released_at or end_default
        if end > start:
            total += end - start
    return total


def response_effort_cost(mi: MajorIncident, now: datetime, hourly_rate: Decimal | None = None) -> Decimal:
    """The responders' engaged time at the configured hourly rate (not part of `estimated_cost`)."""
    if hourly_rate is None:
        hourly_rate = MajorIncidentSettings.current().responder_hourly_rate
    return cost(engaged_time(mi, now), hourly_rate)


def business_impact(
    mi: MajorIncident, now: datetime | None = None, *, hourly_rate: Decimal | None = None
) -> BusinessImpact:
    """The business impact of `mi` now: live while it runs, the frozen costs once resolved."""
    now = now or timezone.now()
    end = impact_end(mi, now) if mi.impact_started_at is not None else None
    duration = _between(mi.impact_started_at, end)
    frozen = mi.state in FROZEN_STATES and mi.estimated_cost is not None
    if frozen:
        estimated = mi.estimated_cost
        effort = mi.response_effort_cost if mi.response_effort_cost is not None else Decimal("0.00")
    else:
        estimated = downtime_cost(mi, duration)
        effort = response_effort_cost(mi, now, hourly_rate)
    return BusinessImpact(
        impact_started_at=mi.impact_started_at,
        detected_at=mi.detected_at,
        declared_at=mi.declared_at,
        mitigated_at=mi.mitigated_at,
        resolved_at=mi.resolved_at,
        closed_at=mi.closed_at,
        time_to_detect=_between(mi.impact_started_at, mi.detected_at),
        time_to_declare=_between(mi.detected_at, mi.declared_at),
        time_to_mitigate=_between(mi.impact_started_at, mi.mitigated_at),
        time_to_restore=_between(mi.impact_started_at, mi.resolved_at),
        duration=duration,
        estimated_cost=estimated,
        response_effort_cost=effort,
        live=mi.state in LIVE_STATES,
    )
