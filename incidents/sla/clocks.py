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

from .pauses import pauses_for
from .replay import Interval, Pause, calendar_of, matching_policy, next_check, percent, replay

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


def replay_into(clock: SlaClock, history: list[Interval], now: datetime, pauses: list[Pause] | None = None):
    """Replay `clock` from `history` and store the result on it (in memory); returns the replay.

    `pauses`: the incident's extra pauses (`incidents.sla.pauses`); None asks the pause sources.
    """
    if pauses is None:
        pauses = pauses_for(clock.incident.service_id, clock.started_at, now)
    state = replay(
        clock.kind,
        timedelta(seconds=clock.target_seconds),
        clock.policy.pause_states or [],
        calendar_of(clock),
        clock.started_at,
        history,
        now,
        pauses,
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


def _new_clock(
    incident: Incident, policy: SlaPolicy, kind: str, history, now: datetime, *, retroactive: bool, pauses: list[Pause]
):
    """An unsaved clock of `policy` started at `opened_at`, replayed up to `now`."""
    clock = SlaClock(
        incident=incident,
        policy=policy,
        kind=kind,
        target_seconds=policy.target_minutes * 60,
        started_at=incident.opened_at,
    )
    replay_into(clock, history, now, pauses)
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
    pauses: list[Pause] | None = None
    for kind in kinds:
        policy = matching_policy(incident, kind, policies)
        if policy is not None:
            if pauses is None:  # asked once, and only when a clock is attached
                pauses = pauses_for(incident.service_id, incident.opened_at, now)
            clocks.append(_new_clock(incident, policy, kind, history, now, retroactive=retroactive, pauses=pauses))
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


def _recompute(clock: SlaClock, incident: Incident, history, actor, now: datetime, pauses: list[Pause]) -> None:
    """Replay one live clock, store it and write timeline events for what changed since the last replay."""
    watermark = clock.updated_at  # the previous replay: history after it is news
    state = replay_into(clock, history, now, pauses)
    for name, at in state.events:
        if name in ("paused", "resumed", "met", "cancelled") and at > watermark:
            reason = state.reasons.get((name, at), "")
            events.sla(incident, actor, policy=clock.policy_id, kind=clock.kind, event=name, at=at, reason=reason)
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
    pauses = pauses_for(incident.service_id, min(c.started_at for c in clocks), now) if clocks else []
    for clock in clocks:
        _recompute(clock, incident, history, actor, now, pauses)


def replay_open_clocks(service_ids: list[int], actor=None) -> int:
    """Replay the live clocks of open incidents on `service_ids` (a pause began, ended or changed).

    For the owner of pause intervals (a maintenance window starting, completing, changed or
    cancelled), in its transaction: each incident is locked first, as every use case does, then
    replayed like after a transition, so `due_at` moves and the timeline says `paused` /
    `resumed` with the pause's reason. Returns how many clocks were replayed.
    """
    if not service_ids:
        return 0
    incident_ids = list(
        SlaClock.objects.filter(incident__service_id__in=service_ids, stage__in=LIVE_STAGES, stopped_at__isnull=True)
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()
    )
    replayed = 0
    for incident in Incident.objects.select_for_update().filter(pk__in=incident_ids).order_by("id"):
        now = timezone.now()
        clocks = list(_live_clocks(incident))
        if not clocks:
            continue
        history = state_history(incident)
        pauses = pauses_for(incident.service_id, min(c.started_at for c in clocks), now)
        for clock in clocks:
            _recompute(clock, incident, history, actor, now, pauses)
            replayed += 1
    return replayed
