"""SLA clock bookkeeping, called by the incident use cases inside their transactions.

Attach the matching clocks, replay live clocks after every transition, replace clocks whose
policy no longer applies, and keep `next_check_at` (the moment the next warning or breach is due)
with an ETA task after commit for moments within the hour. A use case may find a clock due: the
replay then stores it breached at its due moment (`breached_at` = when the target was reached),
but nothing is fired here. The warnings and breaches, and the actions they trigger (notify,
reassign, raise priority: use cases of their own), run from `incidents.sla.firing`, in the task's
or the sweep's own transaction, after this use case committed.
"""

from datetime import datetime, timedelta

from django.utils import timezone

from incidents import events
from incidents.choices import IncidentState, TimelineType
from incidents.models import Incident, SlaClock, TimelineEvent
from incidents.models.sla import LIVE_STAGES, ClockStage
from itsm import businesstime
from itsm.choices import SlaKind
from itsm.models import SlaPolicy
from itsm.queue import enqueue_on_commit

from .replay import Interval, calendar_of, matching_policy, next_check, percent, replay

ETA_HORIZON = timedelta(hours=1)  # further than this, the minute sweep is the scheduler
CHECK_TASK = "incidents.tasks.check_sla_clock"  # by name: the tasks module imports this one

# A clock's policy and calendar; the calendar's periods and holidays come from its cached value.
CALENDAR_PREFETCH = "policy__calendar"


def active_policies() -> list[SlaPolicy]:
    """Active SLA policies with their calendars, in id order (one query; calendar values are cached)."""
    return list(SlaPolicy.objects.filter(active=True).select_related("calendar").order_by("id"))


def state_history(incident: Incident) -> list[Interval]:
    """(state, from, to) intervals since opening, from the timeline's transition events.

    No transition leads back to `new`, so an incident in `new` has no transition events and its
    history is one interval: the timeline is not read then (every create).
    """
    if incident.state == IncidentState.NEW:
        return [(IncidentState.NEW.value, incident.opened_at, None)]
    history: list[Interval] = []
    state, since = IncidentState.NEW.value, incident.opened_at
    rows = TimelineEvent.objects.filter(incident=incident, type=TimelineType.TRANSITION).order_by("id")
    for at, data in rows.values_list("at", "data"):
        history.append((state, since, at))
        state, since = data["to"], at
    history.append((state, since, None))
    return history


def replay_into(clock: SlaClock, history: list[Interval], now: datetime):
    """Replay `clock` from `history` and store the result on it (in memory); returns the replay."""
    state = replay(
        clock.kind,
        timedelta(seconds=clock.target_seconds),
        clock.policy.pause_states or [],
        calendar_of(clock),
        clock.started_at,
        history,
        now,
    )
    clock.stage = state.stage
    clock.elapsed_seconds = state.elapsed.total_seconds()
    clock.paused_seconds = state.paused.total_seconds()
    clock.running_since = state.running_since
    clock.paused_since = state.paused_since
    clock.stopped_at = state.stopped_at
    clock.breached_at = state.breached_at
    target = timedelta(seconds=clock.target_seconds)
    if state.running_since is not None:
        clock.due_at = state.breached_at or _add(clock, state.running_since, target - state.elapsed)
    elif state.stopped_at is None:
        clock.due_at = None  # paused: recomputed on resume
    elif state.breached_at:
        clock.due_at = state.breached_at
    clock.next_check_at = next_check(clock)
    return state


def _add(clock: SlaClock, start: datetime, delta: timedelta) -> datetime:
    return businesstime.add(calendar_of(clock), start, delta)


def schedule(clock: SlaClock, now: datetime) -> None:
    """Queue the ETA task for the clock's next check after commit, if it is due within the hour."""
    if clock.next_check_at is not None and clock.next_check_at - now <= ETA_HORIZON:
        enqueue_on_commit(CHECK_TASK, clock.pk, eta=max(clock.next_check_at, now))


def _new_clock(incident: Incident, policy: SlaPolicy, kind: str, history, now: datetime, *, retroactive: bool):
    """An unsaved clock of `policy` started at `opened_at`, replayed up to `now`."""
    clock = SlaClock(
        incident=incident,
        policy=policy,
        kind=kind,
        target_seconds=policy.target_minutes * 60,
        started_at=incident.opened_at,
    )
    replay_into(clock, history, now)
    if retroactive:
        # Warnings that passed before this clock existed are recorded as passed, not announced.
        reached = percent(clock, now)
        clock.warnings_fired = [t for t in policy.warning_thresholds or [] if t <= reached]
        clock.next_check_at = next_check(clock)
    return clock


def attach_clocks(
    incident: Incident,
    actor,
    *,
    kinds=(SlaKind.RESPONSE, SlaKind.RESOLUTION),
    retroactive: bool = False,
    policies: list[SlaPolicy] | None = None,
) -> list[SlaClock]:
    """Attach the matching clock of each kind, started at `opened_at`; returns them (policies loaded).

    The clocks go in with one INSERT and their `started` timeline rows with another. A clock due
    at once (an `opened_at` in the past, a retroactive clock) is stored breached at its due
    moment; its warnings and breach fire from the ETA task queued after commit.
    """
    now = timezone.now()
    if policies is None:
        policies = active_policies()
    history = state_history(incident)
    clocks = []
    for kind in kinds:
        policy = matching_policy(incident, kind, policies)
        if policy is not None:
            clocks.append(_new_clock(incident, policy, kind, history, now, retroactive=retroactive))
    if clocks:
        SlaClock.objects.bulk_create(clocks)
        events.write_many(
            [
                events.sla_row(incident, actor, policy=c.policy_id, kind=c.kind, event="started", at=c.started_at)
                for c in clocks
            ]
        )
    for clock in clocks:
        schedule(clock, now)
    return clocks


def _live_clocks(incident: Incident):
    return (
        SlaClock.objects.select_for_update(of=("self",))
        .filter(incident=incident, stage__in=LIVE_STAGES, stopped_at__isnull=True)
        .select_related("policy__calendar")
    )


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


def _recompute(clock: SlaClock, incident: Incident, history, actor, now: datetime) -> None:
    """Replay one live clock, store it and write timeline events for what changed since the last replay."""
    watermark = clock.updated_at  # the previous replay: history after it is news
    state = replay_into(clock, history, now)
    for name, at in state.events:
        if name in ("paused", "resumed", "met", "cancelled") and at > watermark:
            events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event=name, at=at)
    clock.save()
    schedule(clock, now)


def state_changed(incident: Incident, actor, transition: str) -> None:
    """After a transition: replay every live clock (and the resolution clock again on reopen)."""
    now = timezone.now()
    history = state_history(incident)
    clocks = list(_live_clocks(incident))
    if transition == "reopen":
        last = (
            SlaClock.objects.select_for_update(of=("self",))
            .filter(incident=incident, kind=SlaKind.RESOLUTION, stopped_at__isnull=False)
            .exclude(stage=ClockStage.CANCELLED)
            .select_related("policy__calendar")
            .order_by("-id")
            .first()
        )
        if last is not None and not any(c.kind == SlaKind.RESOLUTION for c in clocks):
            last.stopped_at = None
            clocks.append(last)
            events.sla(incident, actor, policy=last.policy_id, kind=last.kind, event="resumed", at=now)
    for clock in clocks:
        _recompute(clock, incident, history, actor, now)
