"""Stakeholder updates on a cadence: post one, measure cadence compliance, remind when overdue.

An update is delivered through the outbox (`major_incident.update_posted`): an internal one
(`public=False`) to console users (staff stakeholders, Major Incident Managers, the rules), an
external one (`public=True`) also to the subscribers of every affected service and of the
major incident itself, external stakeholder addresses and the endpoints listening to it.

Cadence compliance is recorded on each update when it is posted: `due_at` is the record's
`next_update_due_at` at that moment, `late_seconds` how far past it the update came.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from incidents.major import common, events, policy
from incidents.major.choices import Audience, MajorIncidentState, MajorTimelineType, UpdateStatus
from incidents.major.models import MajorIncident, StakeholderUpdate
from incidents.major.notify import Occurrence, emit_events
from itsm.exceptions import InvalidTransition

POSTED = "major_incident.update_posted"
OVERDUE = "major_incident.update_overdue"
# Updates go out while the record is active; once resolved, one final (resolution) update may follow.
POSTING_STATES = [MajorIncidentState.ACTIVE, MajorIncidentState.RESOLVED]
SWEEP_LIMIT = 500


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


def update_context(update: StakeholderUpdate, *, public: bool) -> dict:
    """What templates and webhook receivers get about one update (no staff name when public)."""
    data = {
        "id": update.pk,
        "audience": update.audience,
        "status": update.status,
        "body": update.body,
        "posted_at": update.posted_at.isoformat(),
        "next_update_due_at": update.next_update_due_at.isoformat() if update.next_update_due_at else None,
    }
    if not public:
        data.update(
            author=_name(update.author),
            due_at=update.due_at.isoformat() if update.due_at else None,
            late_seconds=update.late_seconds,
            on_time=update.on_time,
        )
    return data


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


@transaction.atomic
def post_update(
    mi: MajorIncident | int,
    *,
    actor,
    audience: str,
    status: str,
    body: str,
    next_update_due_at: datetime | None = None,
) -> StakeholderUpdate:
    """Post a stakeholder update and set when the next one is due.

    `next_update_due_at` defaults to now + the record's cadence and must be in the future; a
    final update after resolve sets no next one. 403 (policy.can_post_update), 409 unless
    active or resolved, 400 naming `audience`, `status`, `body` or `next_update_due_at`.
    Nothing is written on any refusal.
    """
    mi = common.lock(mi)
    common.require(policy.can_post_update(actor, mi))
    if mi.state not in POSTING_STATES:
        raise InvalidTransition(
            mi.number,
            "post_update",
            mi.state,
            [],
            reason=f"{mi.number} is {mi.state}: stakeholder updates are posted while it is active "
            "(and one final update once resolved).",
        )
    now = timezone.now()
    next_update_due_at = _aware(next_update_due_at)
    errors: dict[str, list[str]] = {}
    if audience not in Audience.values:
        errors["audience"] = [f"One of: {', '.join(Audience.values)}."]
    if status not in UpdateStatus.values:
        errors["status"] = [f"One of: {', '.join(UpdateStatus.values)}."]
    if not isinstance(body, str) or not body.strip():
        errors["body"] = ["The update needs a text."]
    if next_update_due_at is not None:
        if mi.state == MajorIncidentState.RESOLVED:
            errors["next_update_due_at"] = [f"{mi.number} is resolved: no further update is due."]
        elif next_update_due_at <= now:
            errors["next_update_due_at"] = ["Must be in the future."]
    if errors:
        raise ValidationError(errors)

    if mi.state == MajorIncidentState.ACTIVE:
        next_due = next_update_due_at or now + timedelta(minutes=mi.update_cadence_minutes)
    else:
        next_due = None
    due_at = mi.next_update_due_at
    late = max(0, int((now - due_at).total_seconds())) if due_at is not None else 0
    update = StakeholderUpdate(
        major_incident=mi,
        audience=audience,
        status=status,
        body=body.strip(),
        next_update_due_at=next_due,
        posted_at=now,
        author=actor if getattr(actor, "pk", None) else None,
        due_at=due_at,
        late_seconds=late,
    )
    update.save(force_insert=True)
    mi.next_update_due_at = next_due
    common.save(mi, update_fields=["next_update_due_at"])
    events.write(
        mi,
        MajorTimelineType.UPDATE_POSTED,
        actor,
        {"update": update.pk, "audience": audience, "status": status, "late_seconds": late},
    )
    public = audience == Audience.EXTERNAL
    extra = {"update": update_context(update, public=public)}
    emit_events(mi, [Occurrence(POSTED, actor, extra=extra, public=public)])
    return update


# --- cadence compliance --------------------------------------------------------------------------
def cadence_compliance(mi: MajorIncident, now: datetime | None = None) -> dict:
    """How well the record kept its update cadence: counts, on-time share, worst lateness, overdue now.

    Reads the counts the API's queryset annotates (`api_update_count`, `api_updates_on_time`,
    `api_worst_late_seconds`) or the prefetched `updates` when there are (no query), else one
    aggregate query.
    """
    now = now or timezone.now()
    cache = getattr(mi, "_prefetched_objects_cache", {})
    if hasattr(mi, "api_update_count"):
        total, worst = mi.api_update_count, mi.api_worst_late_seconds or 0
        late = total - mi.api_updates_on_time
    elif "updates" in cache:
        rows = list(cache["updates"])
        total = len(rows)
        late = sum(1 for u in rows if u.late_seconds > 0)
        worst = max((u.late_seconds for u in rows), default=0)
    else:
        agg = StakeholderUpdate.objects.filter(major_incident=mi).aggregate(
            total=Count("id"), late=Count("id", filter=Q(late_seconds__gt=0)), worst=Max("late_seconds")
        )
        total, late, worst = agg["total"], agg["late"], agg["worst"] or 0
    on_time = total - late
    return {
        "updates": total,
        "on_time": on_time,
        "late": late,
        "on_time_percent": round(100 * on_time / total) if total else None,
        "worst_late_seconds": worst,
        "overdue_now": bool(
            mi.state == MajorIncidentState.ACTIVE and mi.next_update_due_at and mi.next_update_due_at <= now
        ),
    }


# --- the overdue reminder sweep -------------------------------------------------------------------
def overdue_period_start(mi: MajorIncident, now: datetime) -> datetime:
    """The start of the overdue period `now` falls in: periods are one cadence long from the due time."""
    cadence = timedelta(minutes=max(1, mi.update_cadence_minutes))
    periods = (now - mi.next_update_due_at) // cadence
    return mi.next_update_due_at + periods * cadence


def remind_overdue_updates(now: datetime | None = None, *, limit: int = SWEEP_LIMIT) -> int:
    """Every minute: remind the communications lead and the manager of each active major
    incident whose next update is overdue, once per overdue period (`update_overdue`; the Major
    Incident Managers when the record names neither).

    The period reminded is stored in `update_reminded_for`, written with the timeline and the
    outbox rows in one transaction per record, under `FOR UPDATE SKIP LOCKED`: two sweeps at
    once remind once, and a broker outage only delays the delivery. Returns how many reminded.
    """
    now = now or timezone.now()
    from incidents.services import system_user  # here, not at the top: incidents.services may import this package

    ids = list(
        MajorIncident.objects.filter(state=MajorIncidentState.ACTIVE, next_update_due_at__lte=now)
        .order_by("next_update_due_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    reminded = 0
    system = None
    for pk in ids:
        with transaction.atomic():
            mi = (
                MajorIncident.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, state=MajorIncidentState.ACTIVE, next_update_due_at__lte=now)
                .first()
            )
            if mi is None:  # another sweep or a use case holds it, or it changed meanwhile
                continue
            start = overdue_period_start(mi, now)
            if mi.update_reminded_for is not None and mi.update_reminded_for >= start:
                continue
            mi.update_reminded_for = start
            mi.save(update_fields=["update_reminded_for"])  # sweep bookkeeping, not a change: no version bump
            system = system or system_user()
            overdue = int((now - mi.next_update_due_at).total_seconds())
            period = int((start - mi.next_update_due_at) / timedelta(minutes=max(1, mi.update_cadence_minutes))) + 1
            events.write(
                mi,
                MajorTimelineType.UPDATE_OVERDUE,
                system,
                {"due_at": mi.next_update_due_at.isoformat(), "period": period, "overdue_seconds": overdue},
            )
            people = list(dict.fromkeys(i for i in (mi.comms_lead_id, mi.manager_id) if i))
            reminder = {
                "due_at": mi.next_update_due_at.isoformat(),
                "period_started_at": start.isoformat(),
                "period": period,
                "overdue_minutes": overdue // 60,
                "cadence_minutes": mi.update_cadence_minutes,
            }
            emit_events(
                mi,
                [
                    Occurrence(
                        OVERDUE,
                        None,
                        extra={"reminder": reminder, "nobody_named": not people},
                        public=False,
                        recipients=[f"user:{i}" for i in people] or None,
                    )
                ],
            )
            reminded += 1
    return reminded
