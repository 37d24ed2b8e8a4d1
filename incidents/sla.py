"""SLA clocks of incidents: attach, replay on every transition, fire warnings and breaches once.

How a clock is computed (DOMAIN.md section 3)
---------------------------------------------
A clock is a pure function of its policy (kind, target, pause states, thresholds), the policy's
business calendar and the incident's state history, which the timeline records (`transition`
events with their times). `replay()` walks that history from the clock's start:

* time in a pause state (default `on_hold`) accumulates as paused business time;
* the response clock stops at the first state after `new` (first response: `start`, or a
  resolve or cancel straight from `new`);
* the resolution clock stops at `resolved`; a later `reopen` continues it with its elapsed time;
  `closed` ends it for good;
* `cancelled` cancels both;
* any other time counts as elapsed business time; the breach moment is the exact instant the
  elapsed time reaches the target (`businesstime.add`), even if nobody looks then.

Because replay starts at the clock's `started_at`, a priority/service/category change that
re-attaches clocks starts the new ones retroactively at `opened_at` with the right paused time.

Which policy applies: among active policies of a kind whose priorities include the incident's,
whose service is empty or the incident's, and whose category is empty or the incident's
category (or its parent), the most specific wins: service and category > service > category >
neither; ties go to the oldest policy (lowest id).

Firing: each clock stores `next_check_at`, the moment its next warning or its breach is due. An
ETA task is scheduled for moments within the hour, and a beat sweep every minute fires whatever
is due, so a lost message delays an action by at most one sweep. `fire_due` locks the clock row
and records fired thresholds, so each warning and the breach fire exactly once. The sweep's
chunks fire as one batch each (`fire_many`): the same row locks and markers, but a fixed number
of statements per chunk instead of ~20 per clock (notifications through `emit_many`).
"""

import copy
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from incidents import events
from incidents.choices import IncidentState, TimelineType
from incidents.models import Incident, SlaClock, TimelineEvent
from incidents.models.sla import LIVE_STAGES, ClockStage
from itsm import businesstime, configcache
from itsm.choices import SlaKind
from itsm.models import BusinessCalendar, SlaPolicy
from itsm.queue import enqueue_on_commit

logger = logging.getLogger(__name__)

ETA_HORIZON = timedelta(hours=1)  # further than this, the minute sweep is the scheduler
DEFAULT_ACTIONS = {"warning": ["notify_assignee"], "breach": ["notify_assignee", "notify_group_manager"]}

CALENDAR_PREFETCH = Prefetch(
    "policy__calendar", queryset=BusinessCalendar.objects.prefetch_related("working_periods", "holidays")
)
# Related lookups the API prefetches to render `sla` without a query per incident.
API_PREFETCH = [
    Prefetch(
        "sla_clocks",
        queryset=SlaClock.objects.select_related("policy").prefetch_related(CALENDAR_PREFETCH).order_by("id"),
    )
]


# --- policy matching ------------------------------------------------------------------------------
def _specificity(policy: SlaPolicy) -> int:
    return (2 if policy.service_id else 0) + (1 if policy.category_id else 0)


def active_policies() -> list[SlaPolicy]:
    """Active SLA policies (calendars loaded) in id order: which ones from the database, instances cached.

    One small query reads the active policies' ids and `updated_at`, so a policy another process
    committed a moment ago (its version bump not seen here yet) applies at once, as when every
    attach read the policies. The instances with their converted calendars come from the
    per-process configuration cache (`itsm.configcache`, which reads the database itself inside
    a transaction that changed a policy or calendar); a policy it lacks at that `updated_at` is
    read from the database. Cached instances are shared: read them, never change or save them.
    """
    rows = SlaPolicy.objects.filter(active=True).order_by("id").values_list("id", "updated_at")
    cached = configcache.current().policies
    policies: dict[int, SlaPolicy | None] = {}
    for pk, updated_at in rows:
        policy = cached.get(pk)
        policies[pk] = policy if policy is not None and policy.updated_at == updated_at and policy.active else None
    missing = [pk for pk, policy in policies.items() if policy is None]
    if missing:
        policies.update(
            (policy.pk, policy) for policy in configcache.with_calendars(SlaPolicy.objects.filter(pk__in=missing))
        )
    return [policy for policy in policies.values() if policy is not None]


def matching_policy(incident: Incident, kind: str, policies: list[SlaPolicy] | None = None) -> SlaPolicy | None:
    """The policy of `kind` that applies to `incident` now (see the module docstring for the rule).

    `policies` defaults to `active_policies()`; inactive ones and other kinds are skipped.
    """
    if policies is None:
        policies = active_policies()
    categories = {incident.category_id}
    if incident.category_id and incident.category.parent_id:
        categories.add(incident.category.parent_id)
    candidates = [
        p
        for p in policies
        if p.kind == kind
        and p.active
        and incident.priority in (p.priorities or [])
        and (p.service_id is None or p.service_id == incident.service_id)
        and (p.category_id is None or p.category_id in categories)
    ]
    if not candidates:
        return None
    return sorted(candidates, key=lambda p: (-_specificity(p), p.pk))[0]


# --- history and replay ---------------------------------------------------------------------------
Interval = tuple[str, datetime, datetime | None]


def state_history(incident: Incident) -> list[Interval]:
    """(state, from, to) intervals since opening, from the timeline's transition events."""
    history: list[Interval] = []
    state, since = IncidentState.NEW.value, incident.opened_at
    rows = TimelineEvent.objects.filter(incident=incident, type=TimelineType.TRANSITION).order_by("id")
    for at, data in rows.values_list("at", "data"):
        history.append((state, since, at))
        state, since = data["to"], at
    history.append((state, since, None))
    return history


def _history(incident: Incident) -> list[Interval]:
    """`state_history`, without reading the timeline for an incident still in `new`.

    No transition leads back to `new` (tests guard the state machine), so an incident in `new`
    has no transition events: its history is the one interval `state_history` would return. This
    saves the timeline read on every create.
    """
    if incident.state == IncidentState.NEW:
        return [(IncidentState.NEW.value, incident.opened_at, None)]
    return state_history(incident)


@dataclass
class ClockState:
    """The result of a replay: what to store on the clock."""

    stage: str
    elapsed: timedelta = timedelta(0)  # business time banked up to running_since (or the stop/pause)
    paused: timedelta = timedelta(0)
    running_since: datetime | None = None
    paused_since: datetime | None = None
    breached_at: datetime | None = None
    stopped_at: datetime | None = None
    cancelled: bool = False
    events: list[tuple[str, datetime]] = field(default_factory=list)  # (event, at) in order


def _stops(kind: str, state: str, is_last: bool) -> bool:
    if kind == SlaKind.RESPONSE:
        return state != IncidentState.NEW
    return state == IncidentState.CLOSED or (state == IncidentState.RESOLVED and is_last)


def replay(
    kind: str,
    target: timedelta,
    pause_states: list[str],
    calendar: businesstime.Calendar,
    started_at: datetime,
    history: list[Interval],
    now: datetime,
) -> ClockState:
    """Recompute a clock from the incident's state history (pure: no database)."""
    result = ClockState(stage=ClockStage.RUNNING)
    was_paused = False
    for state, begin, end in history:
        if end is not None and end <= started_at:
            continue  # before this clock existed
        begin = max(begin, started_at)
        if begin > now:
            break
        current = end is None or end > now  # the state the incident is in now
        until = now if current else end
        if state == IncidentState.CANCELLED:
            result.stage, result.stopped_at, result.cancelled = ClockStage.CANCELLED, begin, True
            result.events.append(("cancelled", begin))
            return result
        if _stops(kind, state, current):
            result.stopped_at = begin
            result.stage = ClockStage.BREACHED if result.breached_at else ClockStage.MET
            result.events.append(("breached" if result.breached_at else "met", begin))
            return result
        if state == IncidentState.RESOLVED:
            continue  # resolved, then reopened: that time is neither elapsed nor paused
        if state in pause_states:
            if not was_paused:
                result.events.append(("paused", begin))
            was_paused = True
            result.paused += businesstime.elapsed(calendar, begin, until)
            if current:
                result.stage, result.paused_since = ClockStage.PAUSED, begin
            continue
        if was_paused:
            result.events.append(("resumed", begin))
            was_paused = False
        if current:
            result.running_since = begin
            break
        segment = businesstime.elapsed(calendar, begin, until)
        if result.breached_at is None and result.elapsed + segment >= target:
            result.breached_at = businesstime.add(calendar, begin, target - result.elapsed)
        result.elapsed += segment
    if result.running_since is not None and result.breached_at is None:
        if result.elapsed + businesstime.elapsed(calendar, result.running_since, now) >= target:
            result.breached_at = businesstime.add(calendar, result.running_since, target - result.elapsed)
    if result.breached_at is not None and result.stage == ClockStage.RUNNING:
        result.stage = ClockStage.BREACHED
    return result


# --- the clock record ---------------------------------------------------------------------------
def _calendar(clock: SlaClock) -> businesstime.Calendar:
    return clock.policy.calendar.to_businesstime()


def current_elapsed(clock: SlaClock, now: datetime | None = None) -> timedelta:
    """Business time elapsed on a clock up to `now` (frozen while paused or stopped)."""
    elapsed = timedelta(seconds=clock.elapsed_seconds)
    if clock.running_since is not None and clock.stopped_at is None and clock.stage != ClockStage.CANCELLED:
        elapsed += businesstime.elapsed(_calendar(clock), clock.running_since, now or timezone.now())
    return elapsed


def _next_check(clock: SlaClock, now: datetime) -> datetime | None:
    """When this clock's next warning or breach is due (None when nothing is pending or it is not running)."""
    if clock.running_since is None or clock.stopped_at is not None or clock.stage == ClockStage.CANCELLED:
        return None
    calendar = _calendar(clock)
    target = timedelta(seconds=clock.target_seconds)
    banked = timedelta(seconds=clock.elapsed_seconds)
    pending = [t for t in clock.policy.warning_thresholds or [] if t not in clock.warnings_fired]
    moments = []
    for threshold in pending:
        at = target * threshold / 100
        moments.append(businesstime.add(calendar, clock.running_since, max(at - banked, timedelta(0))))
    if not clock.breach_fired:
        moments.append(clock.breached_at or businesstime.add(calendar, clock.running_since, target - banked))
    return min(moments) if moments else None


def _store(clock: SlaClock, state: ClockState, now: datetime) -> None:
    clock.stage = state.stage
    clock.elapsed_seconds = state.elapsed.total_seconds()
    clock.paused_seconds = state.paused.total_seconds()
    clock.running_since = state.running_since
    clock.paused_since = state.paused_since
    clock.stopped_at = state.stopped_at
    clock.breached_at = state.breached_at
    target = timedelta(seconds=clock.target_seconds)
    if state.running_since is not None:
        clock.due_at = state.breached_at or businesstime.add(
            _calendar(clock), state.running_since, target - state.elapsed
        )
    elif state.stopped_at is not None:
        clock.due_at = state.breached_at or clock.due_at
    else:
        clock.due_at = None  # paused: recomputed on resume
    clock.next_check_at = _next_check(clock, now)


def _schedule(clock: SlaClock, now: datetime) -> None:
    if clock.next_check_at is not None and clock.next_check_at - now <= ETA_HORIZON:
        from incidents.tasks import check_sla_clock

        enqueue_on_commit(check_sla_clock, clock.pk, eta=max(clock.next_check_at, now))


def _replay_into(clock: SlaClock, history: list[Interval], now: datetime) -> ClockState:
    """Replay `clock` from `history` and store the result on it (in memory)."""
    state = replay(
        clock.kind,
        timedelta(seconds=clock.target_seconds),
        clock.policy.pause_states or [],
        _calendar(clock),
        clock.started_at,
        history,
        now,
    )
    _store(clock, state, now)
    return state


def _recompute(clock: SlaClock, incident: Incident, history: list[Interval], actor, now: datetime) -> None:
    """Replay one existing clock, store it, write timeline events for what changed, fire what is due."""
    watermark = clock.updated_at  # the previous replay: history after it is news
    state = _replay_into(clock, history, now)
    _fire(clock, incident, now)  # warnings reached before this change come before it on the timeline
    for name, at in state.events:
        if name in ("paused", "resumed", "met", "cancelled") and at > watermark:
            events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event=name, at=at)
    clock.save()
    _schedule(clock, now)


def _new_clock(
    incident: Incident, policy: SlaPolicy, kind: str, history: list[Interval], now: datetime, *, retroactive: bool
) -> SlaClock:
    """An unsaved clock of `policy` started at `opened_at`, replayed up to `now`."""
    clock = SlaClock(
        incident=incident,
        policy=policy,
        kind=kind,
        target_seconds=policy.target_minutes * 60,
        started_at=incident.opened_at,
    )
    _replay_into(clock, history, now)
    if retroactive:
        # Warnings that passed before this clock existed are recorded as passed, not announced.
        percent = current_elapsed(clock, now) / timedelta(seconds=clock.target_seconds) * 100
        clock.warnings_fired = [t for t in clock.policy.warning_thresholds or [] if t <= percent]
        clock.next_check_at = _next_check(clock, now)
    return clock


def _fires_now(clock: SlaClock, now: datetime) -> bool:
    """Whether `_fire` would fire anything on `clock` now (planned on a copy: `clock` is untouched)."""
    return bool(_plan(copy.copy(clock), now))


# --- entry points called by incidents.services ----------------------------------------------------
def _live_clocks(incident: Incident):
    return (
        SlaClock.objects.select_for_update(of=("self",))
        .filter(incident=incident, stage__in=LIVE_STAGES, stopped_at__isnull=True)
        .select_related("policy")
        .prefetch_related(CALENDAR_PREFETCH)
    )


def attach_clocks(
    incident: Incident,
    actor,
    *,
    kinds=(SlaKind.RESPONSE, SlaKind.RESOLUTION),
    retroactive: bool = False,
    policies: list[SlaPolicy] | None = None,
) -> list[SlaClock]:
    """Attach the matching clock of each kind, started at `opened_at`; returns them (policies loaded).

    Policies (with calendars) come from the configuration cache (`active_policies()`, or the
    caller's `policies`). Usually nothing is due yet: the clocks are inserted with one INSERT and
    their `started` timeline rows with another, in the order one-by-one saving would write them.
    If a warning or the breach is due at once (an `opened_at` in the past, a retroactive clock),
    each clock is saved, announced and fired in turn as before, so the timeline keeps the order
    started, fired, started, fired. ETA tasks are queued after commit either way.
    """
    now = timezone.now()
    if policies is None:
        policies = active_policies()
    history = _history(incident)
    clocks = []
    for kind in kinds:
        policy = matching_policy(incident, kind, policies)
        if policy is not None:
            clocks.append(_new_clock(incident, policy, kind, history, now, retroactive=retroactive))
    if not any(_fires_now(clock, now) for clock in clocks):
        if clocks:
            SlaClock.objects.bulk_create(clocks)
            TimelineEvent.objects.bulk_create(
                [
                    events.sla_row(incident, actor, policy=c.policy_id, kind=c.kind, event="started", at=c.started_at)
                    for c in clocks
                ]
            )
        for clock in clocks:
            _schedule(clock, now)
        return clocks
    # Something fires at once: one clock after the other as before. A fired action may change the
    # incident (escalate, raise the priority), and the next kind is matched after it.
    attached = []
    for kind in kinds:
        policy = matching_policy(incident, kind, policies)
        if policy is None:
            continue
        clock = _new_clock(incident, policy, kind, history, now, retroactive=retroactive)
        clock.save()
        events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event="started", at=clock.started_at)
        _fire(clock, incident, now)
        _schedule(clock, now)
        attached.append(clock)
    return attached


def policy_inputs_changed(incident: Incident, actor) -> None:
    """Priority, service or category changed: replace live clocks whose policy no longer applies.

    The old clock is cancelled (kept for history); the new one starts retroactively at `opened_at`.
    Clocks that already stopped (a met response) are history and stay as they are.
    """
    now = timezone.now()
    policies = active_policies()  # one snapshot for the match and the attach
    live = {clock.kind: clock for clock in _live_clocks(incident)}
    stopped_kinds = set(
        SlaClock.objects.filter(incident=incident, stopped_at__isnull=False)
        .exclude(stage=ClockStage.CANCELLED)
        .values_list("kind", flat=True)
    )
    to_attach = []
    for kind in (SlaKind.RESPONSE, SlaKind.RESOLUTION):
        best = matching_policy(incident, kind, policies)
        clock = live.get(kind)
        if clock is not None and best is not None and clock.policy_id == best.pk:
            continue
        if clock is not None:
            _cancel(clock, incident, actor, now, reason="policy_changed")
        elif kind in stopped_kinds:
            continue
        if best is not None and incident.state not in (IncidentState.CLOSED, IncidentState.CANCELLED):
            to_attach.append(kind)
    if to_attach:
        attach_clocks(incident, actor, kinds=to_attach, retroactive=True, policies=policies)


def _cancel(clock: SlaClock, incident: Incident, actor, now: datetime, reason: str) -> None:
    clock.stage = ClockStage.CANCELLED
    clock.stopped_at = now
    clock.running_since = None
    clock.next_check_at = None
    clock.cancelled_reason = reason
    clock.save()
    events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event="cancelled")


def state_changed(incident: Incident, actor, transition: str, source: str) -> None:
    """After a transition: replay every live clock (and the resolution clock again on reopen)."""
    now = timezone.now()
    history = state_history(incident)
    clocks = list(_live_clocks(incident))
    if transition == "reopen":
        last = (
            SlaClock.objects.select_for_update(of=("self",))
            .filter(incident=incident, kind=SlaKind.RESOLUTION, stopped_at__isnull=False)
            .exclude(stage=ClockStage.CANCELLED)
            .select_related("policy")
            .prefetch_related(CALENDAR_PREFETCH)
            .order_by("-id")
            .first()
        )
        if last is not None and not any(c.kind == SlaKind.RESOLUTION for c in clocks):
            last.stopped_at = None
            clocks.append(last)
            events.sla(incident, actor, policy=last.policy_id, kind=last.kind, event="resumed", at=now)
    for clock in clocks:
        _recompute(clock, incident, history, actor, now)


# --- warnings and breaches -------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One warning or the breach firing on a clock, as it was when it fired."""

    trigger: str  # "warning" or "breach"
    key: str  # the policy's action key: the threshold ("75") or "breach"
    percent: int
    at: datetime | None  # when it is recorded (the breach: at due_at); None: now
    due_at: datetime | None
    breached_at: datetime | None  # as known when this step fired (a warning before its breach: None)

    @property
    def event(self) -> str:
        return "warning" if self.trigger == "warning" else "breached"


def _plan(clock: SlaClock, now: datetime) -> list[Step]:
    """Mark the due warnings and the due breach as fired on `clock` (in memory) and return them in order.

    The caller holds the clock's row lock and stores the clock. The breach is recorded at
    `due_at` (the moment the elapsed business time reached the target), not at `now`.
    """
    if clock.stage == ClockStage.CANCELLED:
        return []
    target = timedelta(seconds=clock.target_seconds)
    percent = current_elapsed(clock, now) / target * 100
    steps = []
    for threshold in clock.policy.warning_thresholds or []:
        if threshold in clock.warnings_fired or percent < threshold:
            continue
        clock.warnings_fired = [*clock.warnings_fired, threshold]
        steps.append(Step("warning", str(threshold), threshold, None, clock.due_at, clock.breached_at))
    if clock.breached_at is None and clock.stopped_at is None and percent >= 100:
        running_since = clock.running_since or now
        clock.breached_at = businesstime.add(
            _calendar(clock), running_since, target - timedelta(seconds=clock.elapsed_seconds)
        )
    if clock.breached_at is not None and not clock.breach_fired:
        clock.breach_fired = True
        if clock.stopped_at is None:
            clock.stage = ClockStage.BREACHED
        steps.append(Step("breach", "breach", 100, clock.breached_at, clock.due_at, clock.breached_at))
    return steps


def _fire(clock: SlaClock, incident: Incident, now: datetime, *, save: bool = True, cache: dict | None = None) -> bool:
    """Fire due warnings and the breach that have not fired yet (caller holds the clock's row lock).

    Returns whether anything fired; with save=False the caller stores the clock (once).
    """
    steps = _plan(clock, now)
    for step in steps:
        events.sla(
            incident, None, policy=clock.policy_id, kind=clock.kind, event=step.event, percent=step.percent, at=step.at
        )
        _run_actions(clock, incident, step, cache)
    if steps and save:
        clock.next_check_at = _next_check(clock, now)
        clock.save()
    return bool(steps)


NOTIFY_ACTIONS = ("notify_assignee", "notify_group", "notify_group_manager")


def _actions(clock: SlaClock, step: Step) -> tuple[list[str], list[str]]:
    """The policy's actions for a step: (who to tell, other actions in order: escalate, raise priority)."""
    configured = clock.policy.actions or {}
    actions = configured.get(step.key) or configured.get(step.trigger) or DEFAULT_ACTIONS[step.trigger]
    recipients: list[str] = []
    others: list[str] = []
    for action in actions:
        if isinstance(action, dict) and "notify_users" in action:
            recipients.extend(f"user:{uid}" for uid in action["notify_users"])
        elif action in NOTIFY_ACTIONS:
            recipients.append(action.removeprefix("notify_"))
        elif action in ("reassign_escalation_group", "raise_priority"):
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


def _system_user(cache: dict | None):
    from incidents import services

    if cache is None:
        return services.system_user()
    system = cache.get("system_user")  # a chunk: one lookup (the chunk runs in one transaction)
    if system is None:
        system = cache["system_user"] = services.system_user()
    return system


def _run_actions(clock: SlaClock, incident: Incident, step: Step, cache: dict | None = None) -> None:
    """The policy's actions for a threshold (or 'breach'); notifications go through the outbox."""
    from incidents import notify, services

    system = _system_user(cache)
    recipients, others = _actions(clock, step)
    for action in others:
        if action == "reassign_escalation_group":
            services.escalate(incident, actor=system, reason=f"SLA {clock.kind} {step.trigger} at {step.percent}%")
        else:
            services.raise_priority(incident, actor=system, reason=f"SLA {clock.kind} {step.trigger}")
    notify.incident_event(
        "sla.warning" if step.trigger == "warning" else "sla.breached",
        incident,
        system,
        extra=_sla_context(clock, step, recipients),
        recipients=recipients,
    )


# What firing reads besides the clock: the incident and what its notification renders.
FIRE_RELATED = ("incident__service", "incident__assignment_group__manager", "incident__assignee")
FIRE_FIELDS = ["warnings_fired", "breached_at", "breach_fired", "stage", "next_check_at", "updated_at"]


def _policy_for_fire(policy_id: int) -> SlaPolicy:
    return configcache.with_calendars(SlaPolicy.objects).get(pk=policy_id)


def _locked_clock(clock_id: int, cache: dict | None) -> SlaClock | None:
    """The clock, row-locked, with what firing reads; policies (with calendars) from `cache` if given."""
    locked = SlaClock.objects.select_for_update(of=("self",)).filter(pk=clock_id)
    if cache is None:
        return (
            locked.select_related("policy__calendar", *FIRE_RELATED)
            .prefetch_related("policy__calendar__working_periods", "policy__calendar__holidays")
            .first()
        )
    clock = locked.select_related(*FIRE_RELATED).first()
    if clock is not None:
        policies = cache.setdefault("policies", {})
        policy = policies.get(clock.policy_id)
        if policy is None:
            policy = policies[clock.policy_id] = _policy_for_fire(clock.policy_id)
        clock.policy = policy
    return clock


def fire_due(clock_id: int, now: datetime | None = None, *, cache: dict | None = None) -> bool:
    """Fire whatever is due on one clock, exactly once (the ETA task, and the sweep's fallback).

    `cache` (a dict kept for one chunk of the sweep) reuses policies, calendars and the system
    user between clocks. The clock is saved once per fire; the sweep's lease is cleared.
    """
    now = now or timezone.now()
    with transaction.atomic():
        clock = _locked_clock(clock_id, cache)
        if clock is None:
            return False
        if clock.next_check_at is None or clock.next_check_at > now:
            if clock.queued_at is not None:
                SlaClock.objects.filter(pk=clock.pk).update(queued_at=None)
            return False  # stale message: already fired, paused, stopped or rescheduled
        _fire(clock, clock.incident, now, save=False, cache=cache)
        clock.next_check_at = _next_check(clock, now)
        clock.queued_at = None
        clock.save(update_fields=[*FIRE_FIELDS, "queued_at"])
        _schedule(clock, now)
        return True


def fire_many(clock_ids: list[int], now: datetime | None = None) -> int:
    """Fire a chunk of clocks (the sweep's fire_sla_clocks), exactly once each; returns how many were due.

    The chunk is fired as a batch in one transaction (`_fire_batch`: a fixed number of
    statements for the whole chunk). Clocks the batch leaves out (row-locked by someone else
    right now, or with actions that change the incident) and every clock of a batch that
    failed are then fired one by one, each in its own transaction: one clock that fails is
    logged and keeps its lease (a later sweep retries it) without holding back the others.
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
    cache: dict = {}
    for clock_id in rest:
        try:
            if fire_due(clock_id, now, cache=cache):
                fired += 1
        except Exception:
            logger.exception("SLA clock %s could not fire; a later sweep retries it", clock_id)
    return fired


def _policies_for_fire(policy_ids: set[int]) -> dict[int, SlaPolicy]:
    return {policy.pk: policy for policy in configcache.with_calendars(SlaPolicy.objects.filter(pk__in=policy_ids))}


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
        SlaClock.objects.bulk_update(clocks, [*FIRE_FIELDS, "queued_at"])
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


def _fire_batch(clock_ids: list[int], now: datetime) -> tuple[int, list[int]]:
    """Fire the clocks of a chunk together (inside the caller's transaction).

    Locks the clocks with one SELECT ... FOR UPDATE SKIP LOCKED (a clock being fired or changed
    elsewhere right now is left to the one-by-one path, which waits for it), marks what is due
    in memory, queues every notification with one `emit_many()`, writes the timeline entries
    (each clock's `sla` event followed by its `notified` entries, as firing one by one writes
    them) with one INSERT and the clocks with one UPDATE. Clocks whose due actions reassign or
    raise the priority (they lock and change the incident), and every other clock of their
    incident, are left out. Returns (clocks that were due, ids left for the one-by-one path).
    """
    from incidents import notify

    locked = {
        clock.pk: clock
        for clock in SlaClock.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(pk__in=clock_ids)
        .select_related(*FIRE_RELATED, "incident__caller")
        .order_by("id")
    }
    clocks = [locked[pk] for pk in clock_ids if pk in locked]
    rest = [pk for pk in clock_ids if pk not in locked]  # locked elsewhere (or gone: fire_due says so)
    policies = _policies_for_fire({clock.policy_id for clock in clocks})
    stale: list[int] = []
    planned: list[tuple[SlaClock, list[Step]]] = []
    by_incident: dict[int, list[SlaClock]] = {}
    apart: set[int] = set()  # incidents whose clocks fire one by one
    for clock in clocks:
        clock.policy = policies[clock.policy_id]
        if clock.next_check_at is None or clock.next_check_at > now:
            if clock.queued_at is not None:
                stale.append(clock.pk)  # already fired, paused, stopped or rescheduled: just end the lease
            continue
        by_incident.setdefault(clock.incident_id, []).append(clock)
        try:
            steps = _plan(clock, now)
        except Exception:
            logger.exception("SLA clock %s could not be planned; firing it alone", clock.pk)
            apart.add(clock.incident_id)
            continue
        if any(_actions(clock, step)[1] for step in steps):
            apart.add(clock.incident_id)
        planned.append((clock, steps))
    if apart:
        rest += [clock.pk for incident_id in apart for clock in by_incident[incident_id]]
        planned = [(clock, steps) for clock, steps in planned if clock.incident_id not in apart]

    system = _system_user({}) if any(steps for _, steps in planned) else None
    occurrences = []
    for clock, steps in planned:
        for step in steps:
            recipients, _ = _actions(clock, step)
            occurrences.append(
                notify.IncidentEvent(
                    "sla.warning" if step.trigger == "warning" else "sla.breached",
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
        TimelineEvent.objects.bulk_create(entries)

    saved_at = timezone.now()
    for clock, _ in planned:
        clock.next_check_at = _next_check(clock, now)
        clock.queued_at = None
        clock.updated_at = saved_at  # bulk_update does not apply auto_now
    if planned:
        _store_fired([clock for clock, _ in planned])
    if stale:
        SlaClock.objects.filter(pk__in=stale).update(queued_at=None)
    for clock, _ in planned:
        _schedule(clock, now)
    return len(planned), rest


def due_clock_ids(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Ids of clocks whose next warning or breach has come (uses the partial index slaclock_due)."""
    now = now or timezone.now()
    return list(
        SlaClock.objects.filter(next_check_at__isnull=False, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("id", flat=True)[:limit]
    )


SWEEP_LEASE = timedelta(minutes=5)  # a published clock is not published again before this (lost message: retried)

_CLAIM_SQL = """
UPDATE {table} SET queued_at = %s
WHERE id IN (
    SELECT id FROM {table}
    WHERE next_check_at IS NOT NULL AND next_check_at <= %s AND (queued_at IS NULL OR queued_at < %s)
    ORDER BY next_check_at, id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def claim_due_clocks(now: datetime | None = None, limit: int = 1000, lease: timedelta = SWEEP_LEASE) -> list[int]:
    """Lease due clocks that no sweep published within `lease` and return their ids (due order).

    PostgreSQL: one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n) RETURNING id;
    clocks being fired right now (row-locked) are skipped. Elsewhere a portable select + update.
    The lease only avoids publishing a clock twice; exactly-once is still fire_due's row lock.
    """
    now = now or timezone.now()
    stale = now - lease
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM_SQL.format(table=SlaClock._meta.db_table), [now, now, stale, limit])
            return sorted(row[0] for row in cursor.fetchall())
    with transaction.atomic():
        ids = list(
            SlaClock.objects.filter(next_check_at__isnull=False, next_check_at__lte=now)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=stale))
            .order_by("next_check_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            SlaClock.objects.filter(id__in=ids).update(queued_at=now)
    return ids


def release_clocks(clock_ids: list[int]) -> None:
    """Give up the lease of clocks whose publication failed (the next sweep takes them again)."""
    SlaClock.objects.filter(id__in=clock_ids).update(queued_at=None)


# --- read side --------------------------------------------------------------------------------------
def clock_view(clock: SlaClock, now: datetime | None = None) -> dict:
    """A clock as API.md's "SLA clock" (times to the second; remaining frozen while paused)."""
    now = now or timezone.now()
    elapsed = current_elapsed(clock, now)
    target = timedelta(seconds=clock.target_seconds)
    remaining = max(target - elapsed, timedelta(0))
    return {
        "policy": clock.policy_id,
        "policy_name": clock.policy.name,
        "kind": clock.kind,
        "stage": clock.stage,
        "started_at": clock.started_at,
        "due_at": clock.due_at if clock.stage != ClockStage.PAUSED else None,
        "breached_at": clock.breached_at,
        "stopped_at": clock.stopped_at,
        "elapsed_seconds": int(elapsed.total_seconds()),
        "paused_seconds": int(clock.paused_seconds),
        "remaining_seconds": int(remaining.total_seconds()),
        "percent": round(elapsed / target * 100, 1),
    }


def clocks_for_api(incident: Incident) -> list[dict]:
    """Every clock of the incident, cancelled ones included (uses API_PREFETCH when present)."""
    now = timezone.now()
    return [clock_view(clock, now) for clock in incident.sla_clocks.all()]
