"""Pure SLA arithmetic: which policy applies, and a clock replayed from the incident's state history.

Nothing here touches the database (`now` defaults to the present). A clock is a pure function of
its policy (kind, target, pause states, thresholds), the policy's business calendar and the
incident's state history, the `(state, from, to)` intervals the timeline's transition events
describe (DOMAIN.md section 3):

* time in a pause state (default `on_hold`) accumulates as paused business time;
* the response clock stops at the first state after `new` (first response: `start`, or a
  resolve or cancel straight from `new`);
* the resolution clock stops at `resolved`; a later `reopen` continues it with its elapsed time;
  `closed` ends it for good;
* `cancelled` cancels both;
* any other time counts as elapsed business time; the breach moment is the exact instant the
  elapsed time reaches the target (`businesstime.add`), even if nobody looks then;
* extra pause intervals (`pauses`: maintenance windows that pause SLA clocks, from
  `incidents.sla.pauses`) turn time the clock would otherwise run into paused time; they never
  stop a clock or change when it stops, and time that is not running anyway (on hold, resolved
  before a reopen) is not counted twice. Only their part up to `now` counts: a pause still to
  come moves `due_at` when it begins (its owner replays the clocks then).

Which policy applies: among active policies of a kind whose priorities include the incident's,
whose service is empty or the incident's, and whose category is empty or the incident's
category (or its parent), the most specific wins: service and category > service > category >
neither; ties go to the oldest policy (lowest id).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from incidents.choices import IncidentState
from incidents.models.sla import ClockStage
from itsm import businesstime
from itsm.choices import SlaKind

Interval = tuple[str, datetime, datetime | None]


@dataclass(frozen=True)
class Pause:
    """An interval in which running SLA time counts as paused (e.g. a maintenance window), and why."""

    start: datetime
    end: datetime
    reason: str = ""


def merge_pauses(pauses: Iterable[Pause], now: datetime | None = None) -> list[Pause]:
    """Pauses sorted and overlapping (or touching) ones merged, the first one's reason winning.

    Empty pauses and, given `now`, pauses that begin after it are dropped; ends are kept as they
    are (a pause running past `now` still runs: the replay cuts it).
    """
    out: list[Pause] = []
    for pause in sorted(pauses, key=lambda p: (p.start, p.end)):
        if pause.start >= pause.end or (now is not None and pause.start > now):
            continue
        if out and pause.start <= out[-1].end:
            if pause.end > out[-1].end:
                out[-1] = Pause(out[-1].start, pause.end, out[-1].reason)
            continue
        out.append(pause)
    return out


def _split(begin: datetime, until: datetime, pauses: list[Pause], current: bool):
    """[begin, until] cut into (from, to, paused, reason) parts by `pauses` (merged).

    A segment inside a pause at its end ends with that paused part; otherwise the last part runs
    (for the current segment always, even empty: the clock runs from there).
    """
    parts: list[tuple[datetime, datetime, bool, str]] = []
    cursor = begin
    for pause in pauses:
        if pause.end < cursor or (pause.end == cursor and pause.start < cursor):
            continue  # over before this segment
        if pause.start > until or (pause.start == until and not current):
            break  # begins after this segment (the next one takes it)
        start, end = max(pause.start, cursor), min(pause.end, until)
        if start > cursor:
            parts.append((cursor, start, False, ""))
        parts.append((start, end, True, pause.reason))
        cursor = end
        if pause.end > until:
            return parts  # still paused when the segment ends (or now)
    if cursor < until or current or not parts:
        parts.append((cursor, until, False, ""))
    return parts


def _specificity(policy) -> int:
    return (2 if policy.service_id else 0) + (1 if policy.category_id else 0)


def matching_policy(incident, kind: str, policies: list):
    """The policy of `kind` among `policies` that applies to `incident` now (see the module docstring)."""
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
    reasons: dict[tuple[str, datetime], str] = field(default_factory=dict)  # (event, at) -> why (pauses)


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
    pauses: Iterable[Pause] = (),
) -> ClockState:
    """Recompute a clock from the incident's state history and extra pauses (pure: no database)."""
    result = ClockState(stage=ClockStage.RUNNING)
    extra = merge_pauses(pauses, now)
    was_paused = False

    def pause_begins(at: datetime, reason: str = "") -> None:
        nonlocal was_paused
        if not was_paused:
            result.events.append(("paused", at))
            if reason:
                result.reasons[("paused", at)] = reason
        was_paused = True

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
            pause_begins(begin)
            result.paused += businesstime.elapsed(calendar, begin, until)
            if current:
                result.stage = ClockStage.PAUSED
                result.paused_since = _pause_start(result, begin) if extra else begin
            continue
        parts = _split(begin, until, extra, current) if extra else [(begin, until, False, "")]
        for index, (start, stop, paused, reason) in enumerate(parts):
            last = index == len(parts) - 1
            if paused:
                pause_begins(start, reason)
                result.paused += businesstime.elapsed(calendar, start, stop)
                if current and last:
                    result.stage, result.paused_since = ClockStage.PAUSED, _pause_start(result, start)
                continue
            if was_paused:
                result.events.append(("resumed", start))
                was_paused = False
            if current and last:
                result.running_since = start
                break
            segment = businesstime.elapsed(calendar, start, stop)
            if result.breached_at is None and result.elapsed + segment >= target:
                result.breached_at = businesstime.add(calendar, start, target - result.elapsed)
            result.elapsed += segment
        if current:
            break
    if result.running_since is not None and result.breached_at is None:
        if result.elapsed + businesstime.elapsed(calendar, result.running_since, now) >= target:
            result.breached_at = businesstime.add(calendar, result.running_since, target - result.elapsed)
    if result.breached_at is not None and result.stage == ClockStage.RUNNING:
        result.stage = ClockStage.BREACHED
    return result


def _pause_start(result: ClockState, fallback: datetime) -> datetime:
    """When the current (uninterrupted) pause began: the last `paused` event."""
    for name, at in reversed(result.events):
        if name == "paused":
            return at
        if name == "resumed":
            break
    return fallback


# --- a stored clock's derived values (pure: read the clock and its policy's calendar) -------------
def calendar_of(clock) -> businesstime.Calendar:
    """The business calendar a clock counts in."""
    return clock.policy.calendar.to_businesstime()


def current_elapsed(clock, now: datetime | None = None) -> timedelta:
    """Business time elapsed on a clock up to `now` (default: the present; frozen while paused or stopped)."""
    now = now or timezone.now()
    elapsed = timedelta(seconds=clock.elapsed_seconds)
    if clock.running_since is not None and clock.stopped_at is None and clock.stage != ClockStage.CANCELLED:
        elapsed += businesstime.elapsed(calendar_of(clock), clock.running_since, now)
    return elapsed


def percent(clock, now: datetime) -> float:
    """How much of the target has elapsed, in percent."""
    return current_elapsed(clock, now) / timedelta(seconds=clock.target_seconds) * 100


def next_check(clock) -> datetime | None:
    """When something is next due on a clock: a warning, the breach, or a breach marked but not acted on.

    A breach that was marked (by a use case that made the clock due) and not yet fired is due at
    once, whatever the clock does now (paused or stopped since); warnings and the breach moment
    are only pending while the clock runs.
    """
    if clock.stage == ClockStage.CANCELLED:
        return None
    moments = []
    if clock.breached_at is not None and not clock.breach_fired:
        moments.append(clock.breached_at)
    if clock.running_since is not None and clock.stopped_at is None:
        calendar = calendar_of(clock)
        target = timedelta(seconds=clock.target_seconds)
        banked = timedelta(seconds=clock.elapsed_seconds)
        for threshold in clock.policy.warning_thresholds or []:
            if threshold not in clock.warnings_fired:
                at = max(target * threshold / 100 - banked, timedelta(0))
                moments.append(businesstime.add(calendar, clock.running_since, at))
        if not clock.breach_fired and clock.breached_at is None:
            moments.append(businesstime.add(calendar, clock.running_since, target - banked))
    return min(moments) if moments else None


def clock_view(clock, now: datetime | None = None) -> dict:
    """A clock as API.md's "SLA clock" (times to the second; remaining frozen while paused).

    A running clock past its due moment reads as breached at that moment even before the task
    that fires the breach has stored it, so no reader ever sees a running clock past due.
    """
    now = now or timezone.now()
    elapsed = current_elapsed(clock, now)
    target = timedelta(seconds=clock.target_seconds)
    remaining = max(target - elapsed, timedelta(0))
    stage, breached_at = clock.stage, clock.breached_at
    if stage == ClockStage.RUNNING and clock.due_at is not None and clock.due_at <= now:
        stage, breached_at = ClockStage.BREACHED, clock.due_at
    return {
        "policy": clock.policy_id,
        "policy_name": clock.policy.name,
        "kind": clock.kind,
        "stage": stage,
        "started_at": clock.started_at,
        "due_at": clock.due_at if stage != ClockStage.PAUSED else None,
        "breached_at": breached_at,
        "stopped_at": clock.stopped_at,
        "elapsed_seconds": int(elapsed.total_seconds()),
        "paused_seconds": int(clock.paused_seconds),
        "remaining_seconds": int(remaining.total_seconds()),
        "percent": round(elapsed / target * 100, 1),
    }
