"""The incident seed: `seed_incidents()`, used by the `incidents` scenario and `bench.sla_sweep`.

Seeds `scale` incidents with COPY, in chunks, so memory stays flat: a realistic spread over two
years of `opened_at` (ids increase with it, as they would in production), ~20 % open (new, in
progress, on hold; open ones lean towards the recent past but a stale backlog remains),
priorities from impact x urgency through the configured matrix (P1 rare, P3/P4 common), 150
services with a skewed popularity, 40 groups of 10 agents, 2,000 callers, channels, assignees,
resolution codes. Each incident gets its `created` timeline event and its two SLA clocks
(response and resolution, 24x7 calendar), computed the way `incidents.sla` would have left
them: running with the next warning or the breach ahead (`next_check_at`), paused while on
hold, met or breached once stopped; 15 % of the resolved ones spent part of their life on hold
(paused SLA time) and 4 % were reopened once. Transition and notification history is *not* seeded.

Rows are dicts keyed by field name; `bench.bulk.copy_rows` takes the column list from the
models and fills what a row leaves out from the fields' defaults. `open_count` and `due`
(clocks whose breach is already due and not fired, on a policy without warnings) are the SLA
sweep's.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# --- the shape of the data -------------------------------------------------------------------------
SPAN = timedelta(days=730)  # opened_at spread over two years
OPEN_FRACTION = 0.2
AGENTS = 400
GROUPS = 40
MEMBERS_PER_GROUP = 10
CALLERS = 2_000
SERVICES = 150
TOP_CATEGORIES = 10
CHILDREN_PER_CATEGORY = 4
CHUNK = 20_000  # incidents per COPY round (then their clocks and timeline rows)
SAMPLE_OPEN_IDS = 200  # open incidents the transitions step reads (kept in seed_data, which stays small)

# Targets in minutes per priority (24x7), and the warnings every policy has by default.
RESPONSE_MINUTES = {1: 15, 2: 30, 3: 120, 4: 480, 5: 1440}
RESOLUTION_MINUTES = {1: 240, 2: 480, 3: 1440, 4: 4320, 5: 7200}
THRESHOLDS = [50, 75, 90]
DUE_POLICY_NAME = "Incident bench: due breach (no warnings)"
DUE_TARGET = timedelta(hours=8)

# (impact, urgency) weights: through the ITIL matrix about 3 % P1, 12 % P2, 35 % P3, 35 % P4, 15 % P5.
IMPACT_URGENCY_WEIGHTS = {
    (1, 1): 3,
    (1, 2): 5,
    (2, 1): 7,
    (1, 3): 5,
    (2, 2): 20,
    (3, 1): 10,
    (2, 3): 15,
    (3, 2): 20,
    (3, 3): 15,
}
CHANNEL_WEIGHTS = {"portal": 35, "email": 25, "phone": 15, "chat": 5, "monitoring": 15, "api": 5}
# Mean minutes to first response and hours from response to resolution, per priority.
RESPONSE_MEAN_MIN = {1: 5, 2: 15, 3: 60, 4: 240, 5: 600}
RESOLVE_MEAN_H = {1: 2, 2: 6, 3: 24, 4: 72, 5: 120}
HELD_FRACTION = 0.15  # resolved incidents that spent part of their life on hold
REOPEN_FRACTION = 0.04  # resolved incidents reopened once before their last resolution
HOLD_REASONS = ["awaiting_caller", "awaiting_vendor", "awaiting_change", "other"]
RESOLUTION_CODES = ["fixed"] * 6 + ["workaround"] * 2 + ["duplicate", "no_fault_found", "user_error", "other"]
SYMPTOMS = [
    "cannot log in to",
    "slow response from",
    "error 500 on",
    "timeouts calling",
    "data missing in",
    "cannot print from",
    "VPN drops while using",
    "certificate warning on",
    "sync failing for",
    "unexpected logout from",
]


@dataclass
class Reference:
    """The configuration the incidents point at (ids only)."""

    agents: list[int]
    callers: list[int]
    groups: list[int]
    members: dict[int, list[int]]  # group id -> agent ids
    services: list[tuple[int, str, str, int]]  # (id, slug, name, owner group id)
    service_weights: list[float]  # cumulative, for bisect
    categories: list[int]
    response_policy: dict[int, int]  # priority -> policy id
    resolution_policy: dict[int, int]
    due_policy: int
    matrix: dict[tuple[int, int], int]


@dataclass
class Summary:
    """What a seed made (returned as seed_data, so it stays small)."""

    incidents: int = 0
    open: int = 0
    due: int = 0
    clocks: int = 0
    first_id: int = 0
    last_id: int = 0
    first_number: int = 0
    states: dict[str, int] = field(default_factory=dict)
    open_sample: list[int] = field(default_factory=list)


def _weighted(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the weights whose running sum is `cumulative`."""
    return bisect.bisect_right(cumulative, rng.random() * cumulative[-1])


# --- reference data ----------------------------------------------------------------------------------
def _reference(rng: random.Random) -> Reference:
    """Agents (in groups, with roles), callers, groups, services, categories, SLA policies."""
    from bench.bulk import bulk_insert, copy_rows, seed_users
    from itsm import roles
    from itsm.models import AssignmentGroup, BusinessCalendar, Category, PriorityMatrixEntry, Service, SlaPolicy

    agents = [u.pk for u in seed_users("inc-agent", AGENTS, roles=[roles.SERVICE_DESK_AGENT, roles.RESOLVER])]
    callers = [u.pk for u in seed_users("inc-caller", CALLERS, staff=False)]

    groups = [
        g.pk
        for g in bulk_insert(
            AssignmentGroup,
            (
                AssignmentGroup(
                    name=f"Incident bench team {g:02d}",
                    email=f"inc-team-{g}@example.com",
                    manager_id=agents[g * MEMBERS_PER_GROUP],
                )
                for g in range(GROUPS)
            ),
            keep=True,
        )
    ]
    members = {
        group: [agents[(g * MEMBERS_PER_GROUP + m) % AGENTS] for m in range(MEMBERS_PER_GROUP)]
        for g, group in enumerate(groups)
    }
    copy_rows(
        AssignmentGroup.members.through,
        ({"assignmentgroup": group, "user": uid} for group, uids in members.items() for uid in uids),
    )

    made = bulk_insert(
        Service,
        (
            Service(
                slug=f"inc-svc-{i}",
                name=f"Incident bench service {i:03d}",
                description=f"Service number {i} of the incident benchmark.",
                owner_group_id=groups[i % GROUPS],
                criticality=["low", "medium", "high", "critical"][i % 4],
            )
            for i in range(SERVICES)
        ),
        keep=True,
    )
    services = [(s.pk, s.slug, s.name, s.owner_group_id) for s in made]
    # A few services take most incidents (e-mail, VPN, the ERP), as on any service desk.
    service_weights = list(itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(SERVICES)))

    parents = bulk_insert(
        Category, (Category(name=f"Incident bench {i:02d}") for i in range(TOP_CATEGORIES)), keep=True
    )
    children = bulk_insert(
        Category,
        (Category(name=f"Sub {c}", parent_id=p.pk) for p in parents for c in range(CHILDREN_PER_CATEGORY)),
        keep=True,
    )
    categories = [c.pk for c in children] + [p.pk for p in parents]

    calendar = BusinessCalendar.objects.get(name="24x7")
    policies = {}
    for kind, minutes in (("response", RESPONSE_MINUTES), ("resolution", RESOLUTION_MINUTES)):
        for priority, target in minutes.items():
            policies[(kind, priority)] = SlaPolicy.objects.create(
                name=f"Incident bench {kind} P{priority}",
                kind=kind,
                priorities=[priority],
                target_minutes=target,
                calendar=calendar,
                warning_thresholds=list(THRESHOLDS),
            ).pk
    # The due clocks' policy has no warnings, so exactly one action (the breach) fires per clock.
    # Inactive: it never matches a new incident, while the clocks already on it keep running
    # (firing does not look at `active`), like a policy retired after its clocks started.
    due_policy = SlaPolicy.objects.create(
        name=DUE_POLICY_NAME,
        kind="resolution",
        priorities=[1, 2, 3, 4, 5],
        target_minutes=int(DUE_TARGET.total_seconds() // 60),
        calendar=calendar,
        warning_thresholds=[],
        active=False,
    ).pk
    matrix = {(e.impact, e.urgency): e.priority for e in PriorityMatrixEntry.objects.all()}
    return Reference(
        agents=agents,
        callers=callers,
        groups=groups,
        members=members,
        services=services,
        service_weights=service_weights,
        categories=categories,
        response_policy={p: policies[("response", p)] for p in RESPONSE_MINUTES},
        resolution_policy={p: policies[("resolution", p)] for p in RESOLUTION_MINUTES},
        due_policy=due_policy,
        matrix=matrix,
    )


# --- which incidents are open, and which of those are due -------------------------------------------------
def _age_weight(age: timedelta) -> float:
    """How likely an incident of this age is still open, relatively: mostly recent ones."""
    if age < timedelta(days=3):
        return 10.0
    if age < timedelta(days=30):
        return 3.0
    return 1.0


def _flags(scale: int, open_count: int, due: int, rng: random.Random) -> bytearray:
    """Per incident: 0 not open, 1 open, 2 open with its resolution breach due now.

    Exactly `open_count` open ones, chosen by weighted sampling without replacement (key
    u ** (1 / w), the largest keys win), so the count is exact and the mix still leans recent.
    """
    step = SPAN / scale
    keys = (rng.random() ** (1 / _age_weight(SPAN - step * (i + 0.5))) for i in range(scale))
    chosen = heapq.nlargest(open_count, zip(keys, range(scale), strict=False))
    flags = bytearray(scale)
    for _, i in chosen:
        flags[i] = 1
    if due:
        # A due clock was paused and resumed (see _due_clock): its incident is older than a day.
        old_enough = [i for _, i in chosen if SPAN - step * (i + 1) > timedelta(days=1)]
        if len(old_enough) < due:
            raise ValueError(f"only {len(old_enough)} open incidents are old enough to carry a due breach; {due} asked")
        for i in rng.sample(old_enough, due):
            flags[i] = 2
    return flags


# --- clocks (24x7: business time is wall time) ---------------------------------------------------------
_JSON_CACHE: dict[tuple, str] = {}


def _json_list(values: Sequence[int]) -> str:
    key = tuple(values)
    if key not in _JSON_CACHE:
        _JSON_CACHE[key] = json.dumps(list(values))
    return _JSON_CACHE[key]


def _clock(
    incident_id: int,
    policy: int,
    kind: str,
    target: timedelta,
    start: datetime,
    now: datetime,
    *,
    stop: datetime | None = None,
    pause: datetime | None = None,
    cancelled: bool = False,
    held: timedelta = timedelta(0),
) -> tuple:
    """One clock row as `incidents.sla` leaves it: running, paused at `pause`, or stopped at `stop`.

    `held` (stopped clocks only): time the incident spent on hold before it stopped, which the clock
    counted as paused: the target moved out by as much, and the business elapsed excludes it.
    """
    end = stop or pause or now
    held = held if stop is not None and not cancelled else timedelta(0)
    due = start + target + held
    fired = [t for t in THRESHOLDS if start + held + target * t / 100 <= end]
    breached = due <= end
    breached_at = due if breached else None
    next_check = None
    if cancelled:
        stage, running_since, due_at = "cancelled", None, due
        breached_at, breached, fired = None, False, []
    elif stop is not None:
        stage, running_since, due_at = ("breached" if breached else "met"), None, due
    elif pause is not None:
        stage, running_since, due_at = "paused", None, None  # due_at is recomputed on resume
    else:
        stage, running_since, due_at = ("breached" if breached else "running"), start, due
        if not breached:
            pending = [start + target * t / 100 for t in THRESHOLDS if t not in fired]
            next_check = min([*pending, due])
    elapsed = 0.0 if running_since is not None else (end - start - held).total_seconds()
    return {
        "incident": incident_id,
        "policy": policy,
        "kind": kind,
        "stage": stage,
        "target_seconds": int(target.total_seconds()),
        "started_at": start,
        "elapsed_seconds": elapsed,
        "paused_seconds": held.total_seconds(),
        "running_since": running_since,
        "paused_since": pause,
        "due_at": due_at,
        "breached_at": breached_at,
        "stopped_at": stop,
        "warnings_fired": _json_list(fired),
        "breach_fired": breached,
        "next_check_at": next_check,
        "created_at": start,
        "updated_at": now,
    }


def _due_clock(incident_id: int, policy: int, start: datetime, now: datetime, rng: random.Random) -> tuple:
    """A resolution clock whose breach came 1 to 30 minutes ago and has not fired yet.

    It ran, was paused (on hold) and resumed: `elapsed` business seconds banked before
    `running_since`, so `due_at = running_since + target - elapsed` lies in the past whatever the
    incident's age, and `fire_due` computes exactly that moment as the breach.
    """
    due_at = now - timedelta(seconds=rng.uniform(60, 1800))
    banked = DUE_TARGET * rng.uniform(0, 0.9)
    running_since = due_at - (DUE_TARGET - banked)
    paused = (running_since - start - banked).total_seconds()
    assert paused >= 0, "due incidents are older than a day"
    return {
        "incident": incident_id,
        "policy": policy,
        "kind": "resolution",
        "stage": "running",
        "target_seconds": int(DUE_TARGET.total_seconds()),
        "started_at": start,
        "elapsed_seconds": banked.total_seconds(),
        "paused_seconds": paused,
        "running_since": running_since,
        "paused_since": None,
        "due_at": due_at,
        "breached_at": None,
        "stopped_at": None,
        "warnings_fired": "[]",
        "breach_fired": False,
        "next_check_at": due_at,
        "created_at": start,
        "updated_at": now,
    }


# --- incidents ---------------------------------------------------------------------------------------


def _chunk_rows(
    ref: Reference,
    flags: bytearray,
    first: int,
    count: int,
    base_id: int,
    base_number: int,
    scale: int,
    now: datetime,
    rng: random.Random,
) -> tuple[list[dict], list[dict], list[dict], dict[str, int]]:
    """Incident, clock and timeline rows of incidents `first` .. `first + count - 1`."""
    pairs = list(IMPACT_URGENCY_WEIGHTS)
    pair_weights = list(itertools.accumulate(IMPACT_URGENCY_WEIGHTS.values()))
    channels = list(CHANNEL_WEIGHTS)
    channel_weights = list(itertools.accumulate(CHANNEL_WEIGHTS.values()))
    start_of_span = now - SPAN
    step = SPAN / scale
    incidents, clocks, timeline = [], [], []
    states: dict[str, int] = {}
    for i in range(first, first + count):
        incident_id = base_id + i
        number = f"INC{base_number + i:07d}"
        opened = start_of_span + step * (i + rng.random())
        age = now - opened
        impact, urgency = pairs[_weighted(rng, pair_weights)]
        priority = ref.matrix.get((impact, urgency), 3)
        channel = channels[_weighted(rng, channel_weights)]
        service_id, _, service_name, owner_group = ref.services[_weighted(rng, ref.service_weights)]
        group = owner_group if rng.random() < 0.85 else rng.choice(ref.groups)
        flag = flags[i]

        # State, and the moments that state implies (each clamped to the past, in order).
        if flag:
            state = "in_progress" if flag == 2 else rng.choices(["new", "in_progress", "on_hold"], [30, 50, 20])[0]
        elif age < timedelta(days=4):
            state = rng.choices(["resolved", "closed", "cancelled"], [70, 25, 5])[0]
        else:
            state = "cancelled" if rng.random() < 0.07 else "closed"
        states[state] = states.get(state, 0) + 1
        room = age * 0.9  # how far after opening anything may have happened
        responded = resolved = closed = hold_since = None
        if state != "new" and state != "cancelled":
            responded = opened + min(timedelta(minutes=rng.expovariate(1 / RESPONSE_MEAN_MIN[priority])), room * 0.3)
        if state in ("resolved", "closed"):
            resolved = responded + min(
                timedelta(hours=rng.expovariate(1 / RESOLVE_MEAN_H[priority])), (opened + room * 0.6) - responded
            )
        if state == "closed":
            closed = min(resolved + timedelta(hours=72), opened + room)
        if state == "cancelled":
            closed = opened + min(timedelta(hours=rng.expovariate(1 / 6)), room)
        if state == "on_hold":
            hold_since = responded + (now - responded) * rng.uniform(0.1, 0.9)
        assignee = None
        if state != "new" or rng.random() < 0.3:
            assignee = rng.choice(ref.members[group])
        caller, caller_name, caller_email = None, "", ""
        if channel == "email" or rng.random() < 0.3:
            caller_name, caller_email = f"Caller {i % 9973}", f"caller{i % 9973}@example.org"
        else:
            caller = rng.choice(ref.callers)
        resolution_code = rng.choice(RESOLUTION_CODES) if resolved else ""
        # History the resolved ones carry: about 15 % waited on hold (paused SLA time), 4 % were
        # reopened once before their last resolution.
        held = timedelta(0)
        if resolved and rng.random() < HELD_FRACTION:
            held = (resolved - responded) * rng.uniform(0.2, 0.6)
        reopened = 1 if resolved and rng.random() < REOPEN_FRACTION else 0
        updated = max(t for t in (opened, responded, resolved, closed, hold_since) if t is not None)
        version = 1 + (responded is not None) + (resolved is not None) + (closed is not None) + (hold_since is not None)
        incidents.append(
            {
                "id": incident_id,
                "number": number,
                "title": f"{rng.choice(SYMPTOMS).capitalize()} {service_name} ({i % 997})",
                "description": f"Reported by {caller_name or 'a caller'} via {channel}: the problem started around "
                f"{opened:%H:%M} and affects {rng.randint(1, 400)} users. Steps tried: restart, "
                "clear cache, another browser. Screenshots attached in the original message.",
                "state": state,
                "impact": impact,
                "urgency": urgency,
                "priority": priority,
                "channel": channel,
                "caller": caller,
                "caller_name": caller_name,
                "caller_email": caller_email,
                "service": service_id,
                "category": rng.choice(ref.categories),
                "assignment_group": group,
                "assignee": assignee,
                "tags": '["vip"]' if rng.random() < 0.03 else "[]",
                "hold_reason": rng.choice(HOLD_REASONS) if hold_since else "",
                "on_hold_since": hold_since,
                "resolution_code": resolution_code,
                "resolution_notes": f"Resolved: {resolution_code.replace('_', ' ')}." if resolved else "",
                "opened_at": opened,
                "responded_at": responded,
                "resolved_at": resolved,
                "closed_at": closed,
                "updated_at": updated,
                "reassignment_count": 1 if rng.random() < 0.15 else 0,
                "reopen_count": reopened,
                "version": version,
            }
        )
        timeline.append(
            {
                "incident": incident_id,
                "type": "created",
                "at": opened,
                "data": json.dumps({"number": number, "channel": channel, "priority": priority, "state": "new"}),
            }
        )

        # Response clock: stops at the first response; resolution clock: pauses on hold, stops at resolve.
        response_target = timedelta(minutes=RESPONSE_MINUTES[priority])
        resolution_target = timedelta(minutes=RESOLUTION_MINUTES[priority])
        response_policy, resolution_policy = ref.response_policy[priority], ref.resolution_policy[priority]
        response = functools.partial(_clock, incident_id, response_policy, "response", response_target, opened, now)
        resolution = functools.partial(
            _clock, incident_id, resolution_policy, "resolution", resolution_target, opened, now
        )
        if state == "cancelled":
            clocks += [response(stop=closed, cancelled=True), resolution(stop=closed, cancelled=True)]
            continue
        clocks.append(response(stop=responded))
        if flag == 2:
            clocks.append(_due_clock(incident_id, ref.due_policy, opened, now, rng))
        else:
            clocks.append(resolution(stop=resolved, pause=hold_since, held=held))
    return incidents, clocks, timeline, states


def _next_values() -> tuple[int, int]:
    """The first free incident id and number (both continue after anything already there)."""
    from django.db import connection

    from itsm.numbering import sequence_name

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT GREATEST(COALESCE((SELECT max(id) FROM incidents_incident), 0), "
            "COALESCE(pg_sequence_last_value(pg_get_serial_sequence('incidents_incident', 'id')::regclass), 0)), "
            "COALESCE(pg_sequence_last_value(%s::regclass), 0)",
            [sequence_name("incident")],
        )
        last_id, last_number = cursor.fetchone()
    return last_id + 1, last_number + 1


def _advance_sequences(last_id: int, last_number: int) -> None:
    """New incidents (the create step, production) continue after the seeded ids and numbers."""
    from django.db import connection

    from itsm.numbering import sequence_name

    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(%s, %s)", [sequence_name("incident"), last_number])
        cursor.execute("SELECT setval(pg_get_serial_sequence('incidents_incident', 'id'), %s)", [last_id])


def _say(message: str) -> None:
    print(f"incidents seed: {message}", file=sys.stderr, flush=True)


def seed_incidents(scale: int, *, open_count: int | None = None, due: int = 0, seed: int = 20240601) -> dict[str, Any]:
    """Seed `scale` incidents (`open_count` open, default 20 %; `due` of them with a due breach).

    Returns a small summary (counts, id and number ranges, a sample of open ids, the policy and
    reference ids the steps and the SLA sweep need).
    """
    from django.utils import timezone

    from bench.bulk import copy_rows
    from incidents.models import Incident, SlaClock, TimelineEvent

    if open_count is None:
        open_count = round(scale * OPEN_FRACTION)
    if not 0 <= due <= open_count <= scale:
        raise ValueError(f"need 0 <= due ({due}) <= open ({open_count}) <= incidents ({scale})")
    rng = random.Random(seed)
    started = time.perf_counter()
    now = timezone.now()
    ref = _reference(rng)
    flags = _flags(scale, open_count, due, rng)
    base_id, base_number = _next_values()
    summary = Summary(first_id=base_id, last_id=base_id + scale - 1, first_number=base_number)
    for first in range(0, scale, CHUNK):
        count = min(CHUNK, scale - first)
        incidents, clocks, timeline, states = _chunk_rows(
            ref, flags, first, count, base_id, base_number, scale, now, rng
        )
        summary.incidents += copy_rows(Incident, incidents)
        summary.clocks += copy_rows(SlaClock, clocks)
        copy_rows(TimelineEvent, timeline)
        for state, n in states.items():
            summary.states[state] = summary.states.get(state, 0) + n
        done = first + count
        if done % 100_000 == 0 or done == scale:
            rate = done / (time.perf_counter() - started)
            _say(f"{done:,} incidents ({rate:,.0f}/s)")
    _advance_sequences(base_id + scale - 1, base_number + scale - 1)
    open_ids = [base_id + i for i, flag in enumerate(flags) if flag]
    summary.open = len(open_ids)
    summary.due = flags.count(2)
    summary.open_sample = rng.sample(open_ids, min(SAMPLE_OPEN_IDS, len(open_ids)))
    vacuum(["incidents_incident", "incidents_slaclock", "incidents_timelineevent"])
    _say(f"done in {time.perf_counter() - started:,.0f} s")
    return {
        **summary.__dict__,
        "services": [slug for _, slug, _, _ in ref.services],
        "groups": ref.groups,
        "due_policy": ref.due_policy,
    }


def vacuum(tables: list[str]) -> None:
    """VACUUM ANALYZE freshly copied tables: sets hint bits and the visibility map, as autovacuum
    would have long before production reads them, so the first timed requests do not pay for it."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
