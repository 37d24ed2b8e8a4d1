"""Firing SLA warnings and breaches, exactly once, after the use case that made them due committed.

Each clock stores `next_check_at`. The ETA task (`check_sla_clock`, queued by the bookkeeping
after commit) and the beat sweep (`sweep_sla_clocks`, every minute, for anything the ETA missed)
both end here, in their own transactions. A clock's row lock and its fired markers
(`warnings_fired`, `breach_fired`) make each warning and the breach fire exactly once; the breach
is recorded at `breached_at` (the moment the target was reached), not when it was seen.

There is one fire path, `fire_many` (`fire_due` is its one-clock case). A chunk fires as a
batch in one transaction (a fixed number of statements: one locking SELECT, one `emit_many`, one
timeline INSERT, one UPDATE). Clocks whose actions change the incident (reassign to the
escalation group, raise the priority), clocks row-locked elsewhere right now and every clock of a
batch that failed fire one by one, each in its own transaction that locks the incident first
(as every use case does, so the two never deadlock), stores the fired markers, runs the actions
through their use cases and then notifies from the incident as the actions left it.
"""

import copy
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from incidents import events, notify, services
from incidents.models import Incident, SlaClock, TimelineEvent
from incidents.models.sla import ClockStage
from itsm import businesstime
from itsm.models import SlaPolicy
from itsm.sweep import LeasedSweep

from .clocks import schedule
from .replay import calendar_of, next_check, percent

logger = logging.getLogger(__name__)

DEFAULT_ACTIONS = {"warning": ["notify_assignee"], "breach": ["notify_assignee", "notify_group_manager"]}
NOTIFY_ACTIONS = ("notify_assignee", "notify_group", "notify_group_manager")
INCIDENT_ACTIONS = ("reassign_escalation_group", "raise_priority")

# What firing reads besides the clock: the incident and what its notification renders.
FIRE_RELATED = ("incident__service", "incident__assignment_group__manager", "incident__assignee", "incident__caller")
FIRE_FIELDS = ["warnings_fired", "breached_at", "breach_fired", "stage", "next_check_at", "updated_at", "queued_at"]


@dataclass(frozen=True)
class Step:
    """One warning or the breach firing on a clock, as it was when it fired."""

    trigger: str  # "warning" or "breach"
    key: str  # the policy's action key: the threshold ("75") or "breach"
    percent: int
    at: datetime | None  # when it is recorded (the breach: at breached_at); None: now
    due_at: datetime | None
    breached_at: datetime | None  # as known when this step fired (a warning before its breach: None)

    @property
    def event(self) -> str:
        return "warning" if self.trigger == "warning" else "breached"

    @property
    def event_type(self) -> str:
        return "sla.warning" if self.trigger == "warning" else "sla.breached"


def _plan(clock: SlaClock, now: datetime) -> list[Step]:
    """Mark the due warnings and the due breach as fired on `clock` (in memory) and return them in order.

    The caller holds the clock's row lock and stores the clock.
    """
    if clock.stage == ClockStage.CANCELLED:
        return []
    target = timedelta(seconds=clock.target_seconds)
    reached = percent(clock, now)
    steps = []
    for threshold in clock.policy.warning_thresholds or []:
        if threshold in clock.warnings_fired or reached < threshold:
            continue
        clock.warnings_fired = [*clock.warnings_fired, threshold]
        steps.append(Step("warning", str(threshold), threshold, None, clock.due_at, clock.breached_at))
    if clock.breached_at is None and clock.stopped_at is None and reached >= 100:
        running_since = clock.running_since or now
        banked = timedelta(seconds=clock.elapsed_seconds)
        clock.breached_at = businesstime.add(calendar_of(clock), running_since, target - banked)
    if clock.breached_at is not None and not clock.breach_fired:
        clock.breach_fired = True
        if clock.stopped_at is None and clock.stage == ClockStage.RUNNING:
            clock.stage = ClockStage.BREACHED
        steps.append(Step("breach", "breach", 100, clock.breached_at, clock.due_at, clock.breached_at))
    clock.next_check_at = next_check(clock)
    clock.queued_at = None
    return steps


def _actions(clock: SlaClock, step: Step) -> tuple[list[str], list[str]]:
    """The policy's actions for a step: (who to tell, actions that change the incident, in order)."""
    configured = clock.policy.actions or {}
    actions = configured.get(step.key) or configured.get(step.trigger) or DEFAULT_ACTIONS[step.trigger]
    recipients: list[str] = []
    others: list[str] = []
    for action in actions:
        if isinstance(action, dict) and "notify_users" in action:
            recipients.extend(f"user:{uid}" for uid in action["notify_users"])
        elif action in NOTIFY_ACTIONS:
            recipients.append(action.removeprefix("notify_"))
        elif action in INCIDENT_ACTIONS:
            others.append(action)
    return recipients, others


def _sla_context(clock: SlaClock, step: Step, recipients: list[str]) -> dict:
    """What a warning or breach notification renders (besides the incident)."""
    return {
        "sla": {
            "policy": clock.policy_id,
            "policy_name": clock.policy.name,
            "kind": clock.kind,
            "percent": step.percent,
            "due_at": step.due_at.isoformat() if step.due_at else None,
            "breached_at": step.breached_at.isoformat() if step.breached_at else None,
            "notify": recipients,
        }
    }


def _policies(policy_ids: set[int]) -> dict[int, SlaPolicy]:
    return {policy.pk: policy for policy in SlaPolicy.objects.filter(pk__in=policy_ids).select_related("calendar")}


# --- the one fire path -------------------------------------------------------------------------
def fire_many(clock_ids: list[int], now: datetime | None = None) -> int:
    """Fire what is due on each clock, exactly once; returns how many clocks had something due.

    The chunk fires as a batch (`_fire_batch`); what it leaves out fires one by one
    (`_fire_one`), each in its own transaction: one clock that fails is logged and keeps its
    lease (a later sweep retries it) without holding back the others.
    """
    now = now or timezone.now()
    ids = list(dict.fromkeys(clock_ids))
    if not ids:
        return 0
    try:
        with transaction.atomic():
            fired, rest = _fire_batch(ids, now)
    except Exception:
        logger.exception("SLA chunk of %d clocks could not fire as a batch; firing them one by one", len(ids))
        fired, rest = 0, ids
    for clock_id in rest:
        try:
            fired += _fire_one(clock_id, now)
        except Exception:
            logger.exception("SLA clock %s could not fire; a later sweep retries it", clock_id)
    return fired


def fire_due(clock_id: int, now: datetime | None = None) -> bool:
    """Fire whatever is due on one clock (the ETA task): `fire_many` of one clock."""
    return fire_many([clock_id], now) > 0


def _fire_batch(clock_ids: list[int], now: datetime) -> tuple[int, list[int]]:
    """Fire the clocks of a chunk together (inside the caller's transaction).

    Locks the clocks with one SELECT ... FOR UPDATE SKIP LOCKED, marks what is due in memory,
    queues every notification with one `emit_many()`, writes the timeline rows (each clock's
    `sla` row followed by its `notified` rows) with one INSERT and the clocks with one UPDATE.
    Returns (clocks that were due, ids left for `_fire_one`): clocks locked elsewhere, and every
    clock of an incident that has a clock whose due actions change the incident.
    """
    locked = {
        clock.pk: clock
        for clock in SlaClock.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(pk__in=clock_ids)
        .select_related(*FIRE_RELATED)
        .order_by("id")
    }
    clocks = [locked[pk] for pk in clock_ids if pk in locked]
    rest = [pk for pk in clock_ids if pk not in locked]
    policies = _policies({clock.policy_id for clock in clocks})
    stale: list[int] = []
    by_incident: dict[int, list[SlaClock]] = {}
    for clock in clocks:
        clock.policy = policies[clock.policy_id]
        if clock.next_check_at is None or clock.next_check_at > now:
            if clock.queued_at is not None:
                stale.append(clock.pk)  # already fired, paused, stopped or rescheduled: end the lease
            continue
        by_incident.setdefault(clock.incident_id, []).append(clock)
    planned: list[tuple[SlaClock, list[Step]]] = []
    for group in by_incident.values():
        plans = [(planned_clock, _plan(planned_clock, now)) for planned_clock in map(copy.copy, group)]
        if any(_actions(clock, step)[1] for clock, steps in plans for step in steps):
            rest += [clock.pk for clock in group]  # they change the incident: one by one, incident locked first
            continue
        planned.extend(plans)

    system = services.system_user() if any(steps for _, steps in planned) else None
    occurrences = []
    for clock, steps in planned:
        for step in steps:
            recipients, _ = _actions(clock, step)
            occurrences.append(
                notify.IncidentEvent(
                    step.event_type,
                    clock.incident,
                    system,
                    extra=_sla_context(clock, step, recipients),
                    recipients=recipients,
                )
            )
    queued = iter(notify.queue_incident_events(occurrences))
    entries: list[TimelineEvent] = []
    for clock, steps in planned:
        for step in steps:
            entries.append(
                events.sla_row(
                    clock.incident,
                    None,
                    policy=clock.policy_id,
                    kind=clock.kind,
                    event=step.event,
                    percent=step.percent,
                    at=step.at or timezone.now(),
                )
            )
            entries.extend(next(queued)[1])
    if entries:
        events.write_many(entries)
    saved_at = timezone.now()
    for clock, _ in planned:
        clock.updated_at = saved_at  # a bulk UPDATE does not apply auto_now
    if planned:
        _store_fired([clock for clock, _ in planned])
    if stale:
        SlaClock.objects.filter(pk__in=stale).update(queued_at=None)
    for clock, _ in planned:
        schedule(clock, now)
    return len(planned), rest


def _fire_one(clock_id: int, now: datetime) -> int:
    """Fire one clock in its own transaction: lock its incident, then the clock; 1 if something was due."""
    with transaction.atomic():
        incident_id = SlaClock.objects.filter(pk=clock_id).values_list("incident_id", flat=True).first()
        if incident_id is None:
            return 0
        incident = Incident.objects.select_for_update().get(pk=incident_id)
        clock = SlaClock.objects.select_for_update().filter(pk=clock_id).first()
        if clock is None:
            return 0
        clock.policy = _policies({clock.policy_id})[clock.policy_id]
        if clock.next_check_at is None or clock.next_check_at > now:
            if clock.queued_at is not None:
                SlaClock.objects.filter(pk=clock.pk).update(queued_at=None)
            return 0
        steps = _plan(clock, now)
        clock.save(update_fields=FIRE_FIELDS)  # before the actions: raising the priority may replace it
        schedule(clock, now)
        system = services.system_user()
        for step in steps:
            events.sla(
                incident,
                None,
                policy=clock.policy_id,
                kind=clock.kind,
                event=step.event,
                percent=step.percent,
                at=step.at,
            )
            recipients, actions = _actions(clock, step)
            for action in actions:
                reason = f"SLA {clock.kind} {step.trigger} at {step.percent}%"
                if action == "reassign_escalation_group":
                    incident = services.escalate(incident, actor=system, reason=reason)
                else:
                    incident = services.raise_priority(incident, actor=system, reason=reason)
            notify.incident_event(
                step.event_type, incident, system, extra=_sla_context(clock, step, recipients), recipients=recipients
            )
        return 1


_STORE_FIRED_SQL = """
UPDATE {table} AS c SET
    warnings_fired = v.warnings_fired::jsonb, breached_at = v.breached_at, breach_fired = v.breach_fired,
    stage = v.stage, next_check_at = v.next_check_at, updated_at = v.updated_at, queued_at = NULL
FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::boolean[], %s::text[], %s::timestamptz[],
            %s::timestamptz[]) AS v(id, warnings_fired, breached_at, breach_fired, stage, next_check_at, updated_at)
WHERE c.id = v.id
"""


def _store_fired(clocks: list[SlaClock]) -> None:
    """Write what firing changed on `clocks` (FIRE_FIELDS, lease cleared) with one UPDATE.

    PostgreSQL: UPDATE ... FROM unnest(arrays), one row of values per clock (Django's
    bulk_update builds a CASE per field and row, which costs milliseconds per clock to compile).
    """
    if connection.vendor != "postgresql":
        SlaClock.objects.bulk_update(clocks, FIRE_FIELDS)
        return
    columns: list[list] = [[], [], [], [], [], [], []]
    for clock in clocks:
        values = (
            clock.pk,
            json.dumps(clock.warnings_fired),
            clock.breached_at,
            clock.breach_fired,
            clock.stage,
            clock.next_check_at,
            clock.updated_at,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_STORE_FIRED_SQL.format(table=SlaClock._meta.db_table), columns)


# --- the sweep's lease -------------------------------------------------------------------------
def due_clock_ids(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of clocks whose next warning or breach has come (uses the partial index slaclock_due)."""
    now = now or timezone.now()
    return list(
        SlaClock.objects.filter(next_check_at__isnull=False, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("id", flat=True)[:limit]
    )


SWEEP_LEASE = timedelta(minutes=5)  # a published clock is not published again before this (lost message: retried)
SWEEP = LeasedSweep(SlaClock)


def claim_due_clocks(now: datetime | None = None, limit: int = 1000, lease: timedelta = SWEEP_LEASE) -> list[int]:
    """Lease due clocks that no sweep published within `lease` and return their ids (due order).

    The lease only avoids publishing a clock twice; exactly-once is the fire's row lock.
    """
    now = now or timezone.now()
    due = SlaClock.objects.filter(next_check_at__isnull=False, next_check_at__lte=now)
    return SWEEP.claim(due, now=now, lease=lease, limit=limit, order_by=("next_check_at", "id"))


def release_clocks(clock_ids: list[int]) -> None:
    """Give up the lease of clocks whose publication failed (the next sweep takes them again)."""
    SWEEP.release(clock_ids)
