"""Alert ingestion use cases: `trigger`, `acknowledge` and `resolve` events from monitoring.

One open incident per dedup key
-------------------------------
The database decides, not a check-then-insert: the partial unique constraint
`incident_open_dedup_key_unique` allows one open (new/in_progress/on_hold) incident per key. A
trigger first counts an occurrence on the key's open incident with one `UPDATE ... RETURNING`,
which takes the row lock and increments in the database (the common case in a storm, two
statements in all). Only when no incident is open does it insert, inside a savepoint; a
concurrent trigger that inserted first makes that insert fail with an IntegrityError (PostgreSQL
makes the loser wait on the unique index until the winner commits), the savepoint is rolled
back, and the loser counts its occurrence on the winner's incident. Concurrent occurrences
serialise on the row lock, so none is lost. Row locks are of FOR NO KEY UPDATE strength (see
`_locked_open` for the deadlock FOR UPDATE would cause when a resolve races the triggers).

Repeated occurrences in the timeline
------------------------------------
An `alert` timeline event (`{count, last_seen, ...}`) is written for the first occurrence, then
only when the occurrence count reaches a power of ten (10, 100, 1,000, ...) or when the last
`alert` event of the incident is at least ALERT_SUMMARY_INTERVAL_MINUTES old (default 60): a
storm of 20,000 occurrences in ten minutes writes five events, a flapping alert at most one an
hour, never one per occurrence. Every occurrence updates the incident's `alert_count` and
`alert_last_seen_at` and the latest summary, severity, source and details on its `IncidentAlert`;
each `alert` event also carries the details of the occurrence that wrote it and how many
occurrences it summarises (`occurrences`). Occurrences do not bump the incident's `version` (the
ETag): they are not a change an agent made, and an agent editing an incident during a storm must
not get a 412 every second.

Acknowledge and resolve
-----------------------
`acknowledge` runs `start` on a new incident (routed group, never an assignee); on an incident
already being worked it only records the acknowledgement. `resolve` runs `resolve` with code
`auto_resolved`, or, when the service's alert route says "annotate", adds a work note and leaves
the incident to an agent. Both act on the key's open incident; with none open they answer with
the key's latest incident unchanged (monitoring repeats resolved notifications), and a key never
seen is a 404.
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidents import events, services
from incidents.alerts import conf
from incidents.choices import OPEN_STATES, Channel, IncidentState, ResolutionCode, Visibility
from incidents.models import AlertRoute, Incident, IncidentAlert
from incidents.models.alerts import AlertSeverity, OnResolve
from itsm import roles
from itsm.exceptions import Conflict
from itsm.models import Service
from itsm.procache import VersionedCache

logger = logging.getLogger(__name__)

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = tuple(AlertSeverity.values)  # the enum builds a new list on every .values
# Inlined as literals, the partial unique index's own condition (constants of our own, never input).
if not all(state.isidentifier() for state in OPEN_STATES):
    raise RuntimeError("OPEN_STATES must be plain identifiers to be inlined into SQL")
OPEN_STATES_SQL = ", ".join(f"'{state}'" for state in OPEN_STATES)
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
MAX_SOURCE = 255
TITLE_LENGTH = 255
DESCRIPTION_DETAILS_CHARS = 8000  # details are kept whole on IncidentAlert; the description shows a preview
DEDUP_CONSTRAINT = "incident_open_dedup_key_unique"
TRIGGER_ATTEMPTS = 20
OPENER_LOCK_SPACE = 6_100  # first key of the two-key advisory locks taken by alert openers
# Services named by alerts (slug -> Service with alert route and owner group, or None).
ALERT_SERVICES = VersionedCache("alert-services", max_age=300.0)


@dataclass(frozen=True)
class AlertEvent:
    """A validated monitoring event (what `clean_event` returns)."""

    action: str
    dedup_key: str
    summary: str
    source: str
    severity: str
    service: Service | None
    details: dict[str, Any]
    timestamp: datetime
    route: AlertRoute | None = None


@dataclass(frozen=True)
class AlertResult:
    """What an event did: the incident it landed on, whether it opened it, the occurrence count."""

    incident: Incident
    dedup_key: str
    created: bool
    alert_count: int
    action: str
    changed: bool = True  # False: nothing to do (a repeated resolve, an acknowledge of started work)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's alert event response."""
        return {
            "incident": {"id": self.incident.pk, "number": self.incident.number},
            "dedup_key": self.dedup_key,
            "created": self.created,
            "alert_count": self.alert_count,
            "action": self.action,
            "state": self.incident.state,
        }


def _load_service(slug: str) -> Service | None:
    # One query for the service, its alert route (reverse one-to-one join) and owner group.
    service = Service.objects.select_related("alert_route", "owner_group").filter(slug=slug).first()
    if service is not None:
        try:
            service.alert_route  # noqa: B018 - cache the route (or its absence) on the instance
        except AlertRoute.DoesNotExist:
            pass
    return service


def service_by_slug(slug: str) -> Service | None:
    """The service an alert names, with its alert route and owner group (None if unknown).

    Alerts name the same few services thousands of times a minute: the answer comes from a
    per-process cache (`itsm.procache`) that saving or deleting a service, an alert route or an
    assignment group invalidates in every process (`connect_signals`). The instance is shared:
    read it, never change or save it.
    """
    return ALERT_SERVICES.get(slug, lambda: _load_service(slug))


def _services_changed(*args, **kwargs) -> None:
    ALERT_SERVICES.changed()


def connect_signals() -> None:
    """Invalidate the alert service cache when its rows change; called from IncidentsConfig.ready()."""
    from django.db.models.signals import post_delete, post_save

    from itsm.models import AssignmentGroup

    for model in (Service, AlertRoute, AssignmentGroup):
        for signal, name in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(_services_changed, sender=model, dispatch_uid=f"alert-services-{name}-{model._meta.label}")


def may_ingest(user) -> bool:
    """Alerts and inbound email are sent by integrations (or administrators, to test)."""
    return bool(getattr(user, "is_authenticated", False)) and roles.has_role(
        user, roles.INTEGRATION, roles.ADMINISTRATOR
    )


# --- validation ---------------------------------------------------------------------------------
def _as_datetime(value) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            return None
        if moment is None:
            return None
    else:
        return None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


def _text(errors: dict, name: str, value, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # as DRF's CharField does: a numeric source or key is fine
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
        return ""
    value = value.strip()
    if len(value) > limit:
        errors[name] = [f"At most {limit} characters ({len(value)} given)."]
    return value


def clean_event(
    *,
    action,
    dedup_key=None,
    summary=None,
    source=None,
    severity=None,
    service=None,
    details=None,
    timestamp=None,
) -> AlertEvent:
    """Validate a raw event; raise one ValidationError naming every bad field. Writes nothing."""
    errors: dict[str, list[str]] = {}
    if action in (None, ""):
        errors["action"] = [f"This field is required: one of {', '.join(ACTIONS)}."]
    elif action not in ACTIONS:
        errors["action"] = [f"Choose one of: {', '.join(ACTIONS)}."]
    dedup_key = _text(errors, "dedup_key", dedup_key, MAX_DEDUP_KEY)
    if not dedup_key and "dedup_key" not in errors:
        if action == "trigger":
            dedup_key = uuid.uuid4().hex  # returned to the sender, who uses it to resolve
        elif action in ACTIONS:
            errors["dedup_key"] = [f"Required to {action} an alert."]
    summary = _text(errors, "summary", summary, MAX_SUMMARY)
    if action == "trigger" and not summary and "summary" not in errors:
        errors["summary"] = ["Required on a trigger (it becomes the incident's title)."]
    source = _text(errors, "source", source, MAX_SOURCE)
    if severity in (None, ""):
        severity = ""
        if action == "trigger":
            errors["severity"] = [f"Required on a trigger: one of {', '.join(SEVERITIES)}."]
    elif severity not in SEVERITIES:
        errors["severity"] = [f"Choose one of: {', '.join(SEVERITIES)}."]

    resolved_service, route = None, None
    if isinstance(service, Service):
        resolved_service = service
    elif service not in (None, ""):
        if not isinstance(service, str):
            errors["service"] = ["A service slug (string)."]
        else:
            resolved_service = service_by_slug(service)
            if resolved_service is None:
                errors["service"] = [f"Unknown service '{service}'."]
    if resolved_service is not None:
        if not resolved_service.active and action == "trigger":
            errors["service"] = [f"{resolved_service.name} is inactive."]
        try:
            route = resolved_service.alert_route
        except AlertRoute.DoesNotExist:
            route = None

    if details is None:
        details = {}
    if not isinstance(details, dict):
        errors["details"] = ["Must be a JSON object."]
    else:
        try:
            size = len(json.dumps(details, separators=(",", ":"), ensure_ascii=False).encode())
        except (TypeError, ValueError):
            errors["details"] = ["Must be JSON-serialisable."]
        else:
            limit = conf.details_max_bytes()
            if size > limit:
                errors["details"] = [f"At most {limit} bytes as JSON ({size} given)."]

    if timestamp in (None, ""):
        moment = timezone.now()
    else:
        moment = _as_datetime(timestamp)
        if moment is None:
            errors["timestamp"] = ["An ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z."]
    if errors:
        raise ValidationError(errors)
    return AlertEvent(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        severity=severity,
        service=resolved_service,
        details=details,
        timestamp=moment,
        route=route,
    )


# --- use case -----------------------------------------------------------------------------------
def ingest_event(
    actor,
    *,
    action: str,
    dedup_key: str | None = None,
    summary: str | None = None,
    source: str | None = None,
    severity: str | None = None,
    service: Service | str | None = None,
    details: dict | None = None,
    timestamp: datetime | str | None = None,
) -> AlertResult:
    """Apply one monitoring event (see the module docstring); validation errors write nothing.

    Raises ValidationError (400), Http404 for an acknowledge/resolve of a key never seen,
    PermissionDenied (403), itsm.exceptions.Conflict (409) for an acknowledge of an incident with
    no group to start it in.
    """
    if not may_ingest(actor):
        raise PermissionDenied("Only integrations and ITSM Administrators may send alerts.")
    event = clean_event(
        action=action,
        dedup_key=dedup_key,
        summary=summary,
        source=source,
        severity=severity,
        service=service,
        details=details,
        timestamp=timestamp,
    )
    if event.action == "trigger":
        return _trigger(actor, event)
    if event.action == "acknowledge":
        return _acknowledge(actor, event)
    return _resolve(actor, event)


def _locked_open(dedup_key: str) -> Incident | None:
    """The key's open incident, row-locked until the transaction ends (None if there is none).

    FOR NO KEY UPDATE, not FOR UPDATE: a trigger that queued behind a resolve keeps its lock on the
    incident that just stopped matching (PostgreSQL locks the row before rechecking the WHERE), then
    waits on the unique index for whichever trigger opens the next incident. That trigger inserts
    rows referencing the old incident (its parent link, a timeline event), whose foreign-key checks
    take KEY SHARE locks: FOR UPDATE would block them and deadlock, FOR NO KEY UPDATE does not.
    """
    return (
        Incident.objects.select_for_update(of=("self",), no_key=True)
        .select_related("alert")
        .filter(dedup_key=dedup_key, state__in=OPEN_STATES)
        .exclude(dedup_key="")  # spells out the partial index's condition so the planner uses it
        .first()
    )


def _is_dedup_conflict(exc: IntegrityError) -> bool:
    text = str(exc)
    return DEDUP_CONSTRAINT in text or "dedup_key" in text


def _trigger(actor, event: AlertEvent) -> AlertResult:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        counted = _count_occurrence_in_one_statement(actor, event)
        if counted is not None:
            return counted
    # An attempt only fails when the incident we queued for was resolved before we got its lock;
    # then the next attempt opens (or joins) the key's next incident. Only a key resolved again
    # and again while dozens of triggers queue on it needs more than one or two.
    for _attempt in range(TRIGGER_ATTEMPTS):
        with transaction.atomic():
            counted = _count_occurrence(actor, event)
            if counted is not None:
                return counted
            try:
                with transaction.atomic():  # savepoint: a lost race rolls back only the insert
                    incident = _open(actor, event)
                return AlertResult(incident, event.dedup_key, True, 1, event.action)
            except IntegrityError as exc:
                if not _is_dedup_conflict(exc):
                    raise
            # Another trigger opened it first (the unique index made us wait for its commit).
            counted = _count_occurrence(actor, event)
            if counted is not None:
                return counted
    raise Conflict(f"Could not settle the incident for dedup key '{event.dedup_key}'; retry.")


def _severity_levels(event: AlertEvent) -> tuple[int, int]:
    mapping = conf.severity_map()
    if event.route is not None and event.route.severity_map:
        mapping = {**mapping, **event.route.severity_map}
    levels = mapping[event.severity]
    return levels["impact"], levels["urgency"]


def _title(summary: str) -> str:
    return summary if len(summary) <= TITLE_LENGTH else summary[: TITLE_LENGTH - 1] + "…"


def _description(event: AlertEvent, previous: Incident | None) -> str:
    lines = [event.summary, ""]
    if event.source:
        lines.append(f"Source: {event.source}")
    lines.append(f"Severity: {event.severity}")
    lines.append(f"Dedup key: {event.dedup_key}")
    if previous is not None and previous.is_open:  # being resolved as this one opens
        lines.append(f"Recurrence of {previous.number}.")
    elif previous is not None:
        lines.append(f"Recurrence of {previous.number} ({previous.get_state_display().lower()}).")
    if event.details:
        text = json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        if len(text) > DESCRIPTION_DETAILS_CHARS:
            text = text[:DESCRIPTION_DETAILS_CHARS] + "\n… (truncated; full details on the alert)"
        lines += ["", "Details:", text]
    return "\n".join(lines)


def _previous_incident(dedup_key: str, *, open_too: bool = False) -> Incident | None:
    """The key's latest incident that is no longer open (through IncidentAlert's index on the key).

    `open_too`: the latest whatever its state. An opener asks that: an incident still open when
    it looks can only be resolved by the time its insert passes the unique index, so it is the
    previous one all the same (looking for closed ones only would miss it and leave the new
    incident unlinked).
    """
    rows = IncidentAlert.objects.filter(dedup_key=dedup_key)
    if not open_too:
        rows = rows.exclude(incident__state__in=OPEN_STATES)
    incident_id = rows.order_by("-incident_id").values_list("incident_id", flat=True).first()
    return Incident.objects.filter(pk=incident_id).first() if incident_id else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _serialise_openers(dedup_key: str) -> None:
    """PostgreSQL: one opener per dedup key at a time, until its transaction ends.

    The recurrence link needs the key's latest earlier incident, looked up before inserting. Without
    this lock a trigger could look, find nothing, and insert only after another trigger had opened
    *and* a resolve had closed an incident of the key in between: two unlinked "first" incidents,
    numbered out of order. Under the lock every opener sees every earlier incident committed. Only
    first occurrences take it (repeats are counted on the open incident); SQLite writes one
    transaction at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [OPENER_LOCK_SPACE, dedup_key])


def _open(actor, event: AlertEvent) -> Incident:
    """Open the incident of a first occurrence (raises IntegrityError when another trigger won)."""
    _serialise_openers(event.dedup_key)
    impact, urgency = _severity_levels(event)
    previous = _previous_incident(event.dedup_key, open_too=True)
    fields: dict[str, Any] = {
        "description": _description(event, previous),
        "service": event.service,
        "channel": Channel.MONITORING,
        "dedup_key": event.dedup_key,
        "alert_source": event.source,
    }
    if event.route is not None and event.route.assignment_group_id:
        fields["assignment_group"] = event.route.assignment_group
    # Recurrences hang under the first incident of the chain (a child cannot have children).
    root = (previous.parent if previous.parent_id else previous) if previous is not None else None
    if root is not None:
        fields["parent"] = root
    incident = services.open_incident(
        actor=actor, title=_title(event.summary), impact=impact, urgency=urgency, **fields
    )
    seen, now = event.timestamp, timezone.now()
    # The alert counters are not agent-editable fields, so open_incident does not take them.
    # The trigger check open_incident queued runs after commit, so it sees the alert severity.
    Incident.objects.filter(pk=incident.pk).update(
        alert_count=1, alert_first_seen_at=seen, alert_last_seen_at=seen, alert_severity=event.severity
    )
    incident.alert_count, incident.alert_first_seen_at, incident.alert_last_seen_at = 1, seen, seen
    incident.alert_severity = event.severity
    IncidentAlert.objects.create(
        incident=incident,
        dedup_key=event.dedup_key,
        source=event.source,
        severity=event.severity,
        summary=event.summary,
        details=event.details,
        summarised_count=1,
        summarised_at=now,
    )
    events.alert(
        incident,
        actor,
        count=1,
        last_seen=_iso(seen),
        first_seen=_iso(seen),
        occurrences=1,
        severity=event.severity,
        source=event.source,
        summary=event.summary,
        details=event.details,
    )
    if root is not None:
        # The link is made from the new incident's side and written on both timelines, without
        # locking the old incident (services.link_children would): its fields do not change, and
        # a lock there would make a flapping key's triggers queue on it (see _locked_open).
        events.linked(incident, actor, "parent", root.pk)
        events.linked(root, actor, "child", incident.pk)
    return incident


def is_power_of_ten(number: int) -> bool:
    digits = str(number)
    return number >= 1 and digits[0] == "1" and set(digits[1:]) <= {"0"}


def should_summarise(count: int, summarised_count: int, summarised_at: datetime, now: datetime) -> bool:
    """The timeline rule (module docstring): powers of ten, or the interval since the last summary."""
    if count <= summarised_count:
        return False
    if is_power_of_ten(count):
        return True
    return now - summarised_at >= timedelta(minutes=conf.summary_interval_minutes())


def _alert_row(incident: Incident, event: AlertEvent | None = None) -> IncidentAlert:
    """The incident's IncidentAlert (made on the spot for one opened with a dedup key by hand)."""
    try:
        return incident.alert
    except IncidentAlert.DoesNotExist:
        alert = IncidentAlert.objects.create(
            incident=incident,
            dedup_key=incident.dedup_key,
            source=incident.alert_source,
            severity=(event.severity if event and event.severity else AlertSeverity.ERROR),
            summary=incident.title,
            summarised_count=incident.alert_count,
            summarised_at=incident.alert_last_seen_at or incident.opened_at,
        )
        incident.alert = alert
        return alert


def _as_aware(value) -> datetime:
    """A datetime read by raw SQL (SQLite hands back text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _bump_open_incident(event: AlertEvent, now: datetime) -> tuple[int, str, str, int] | None:
    """Count one occurrence on the key's open incident: (id, number, state, new count), or None.

    One UPDATE ... RETURNING instead of SELECT FOR UPDATE + UPDATE: the UPDATE takes the row lock
    itself (FOR NO KEY UPDATE strength, see _locked_open), waits for a concurrent occurrence to
    commit, and increments in the database, so none is lost. This is the storm's hot path.
    """
    ops = connection.ops
    seen, stamp = ops.adapt_datetimefield_value(event.timestamp), ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ops.quote_name(Incident._meta.db_table)}
               SET alert_count = alert_count + 1,
                   alert_last_seen_at = CASE WHEN alert_last_seen_at IS NULL OR alert_last_seen_at < %s
                                             THEN %s ELSE alert_last_seen_at END,
                   alert_first_seen_at = CASE WHEN alert_first_seen_at IS NULL OR alert_first_seen_at > %s
                                              THEN %s ELSE alert_first_seen_at END,
                   updated_at = %s
             WHERE dedup_key = %s AND dedup_key <> '' AND state IN ({OPEN_STATES_SQL})
            RETURNING id, number, state, alert_count
            """,
            [seen, seen, seen, seen, stamp, event.dedup_key],
        )
        rows = cursor.fetchall()
    return tuple(rows[0]) if rows else None


def _touch_alert(incident_id: int, event: AlertEvent) -> tuple[int, datetime] | None:
    """Keep the latest occurrence on the IncidentAlert; (summarised_count, summarised_at) or None."""
    ops = connection.ops
    details = IncidentAlert._meta.get_field("details").get_db_prep_value(event.details, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ops.quote_name(IncidentAlert._meta.db_table)}
               SET source = CASE WHEN %s = '' THEN source ELSE %s END,
                   severity = %s, summary = %s, details = %s, cleared_at = NULL
             WHERE incident_id = %s
            RETURNING summarised_count, summarised_at
            """,
            [event.source, event.source, event.severity, event.summary, details, incident_id],
        )
        rows = cursor.fetchall()
    return (rows[0][0], _as_aware(rows[0][1])) if rows else None


def _count_occurrence(actor, event: AlertEvent) -> AlertResult | None:
    """Count a repeated trigger on the key's open incident (None when none is open).

    Occurrences clear a "monitoring says resolved" mark (firing again) and are summarised in the
    timeline by the rule in the module docstring.
    """
    now = timezone.now()
    bumped = _bump_open_incident(event, now)
    if bumped is None:
        return None
    incident_id, number, state, count = bumped
    # A deferred instance: enough for the answer and the timeline, without another query.
    incident = Incident.from_db(connection.alias, ["id", "number", "state"], [incident_id, number, state])
    incident.alert_count = count
    summary_state = _touch_alert(incident_id, event)
    if summary_state is None:  # opened by hand with a dedup key: its IncidentAlert starts now
        alert = _alert_row(Incident.objects.get(pk=incident_id), event)
        IncidentAlert.objects.filter(pk=incident_id).update(
            source=event.source or alert.source, summary=event.summary, details=event.details
        )
        summary_state = (alert.summarised_count, alert.summarised_at)
    summarised_count, summarised_at = summary_state
    if should_summarise(count, summarised_count, summarised_at, now):
        _write_summary(incident, actor, event, count, count - summarised_count)
        IncidentAlert.objects.filter(pk=incident_id).update(summarised_count=count, summarised_at=now)
    return AlertResult(incident, event.dedup_key, False, count, event.action)


def _count_occurrence_in_one_statement(actor, event: AlertEvent) -> AlertResult | None:
    """The storm's hot path on PostgreSQL: count an occurrence in one autocommitted statement.

    The two UPDATEs of `_count_occurrence` (incident counters, then the latest occurrence on the
    IncidentAlert) run as one statement with a data-modifying CTE: no BEGIN/COMMIT round trips,
    and atomic all the same. Row locks and their order are those of the two-statement path.
    Summarising into the timeline (rare: powers of ten, or once an interval) then runs in its
    own transaction under the incident's row lock (`_settle_alert`); if it is lost (a crash in
    between), the next due summary covers those occurrences too (`occurrences` counts from the
    last one).
    None when the key has no open incident (nothing was written).
    """
    now = timezone.now()
    ops = connection.ops
    seen, stamp = ops.adapt_datetimefield_value(event.timestamp), ops.adapt_datetimefield_value(now)
    details = IncidentAlert._meta.get_field("details").get_db_prep_value(event.details, connection)
    incident_table = ops.quote_name(Incident._meta.db_table)
    alert_table = ops.quote_name(IncidentAlert._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH bumped AS (
                UPDATE {incident_table}
                   SET alert_count = alert_count + 1,
                       alert_last_seen_at = GREATEST(COALESCE(alert_last_seen_at, %s), %s),
                       alert_first_seen_at = LEAST(COALESCE(alert_first_seen_at, %s), %s),
                       updated_at = %s
                 WHERE dedup_key = %s AND dedup_key <> '' AND state IN ({OPEN_STATES_SQL})
                RETURNING id, number, state, alert_count
            ), touched AS (
                UPDATE {alert_table} AS a
                   SET source = CASE WHEN %s = '' THEN a.source ELSE %s END,
                       severity = %s, summary = %s, details = %s, cleared_at = NULL
                  FROM bumped
                 WHERE a.incident_id = bumped.id
                RETURNING a.incident_id, a.summarised_count, a.summarised_at
            )
            SELECT b.id, b.number, b.state, b.alert_count, t.summarised_count, t.summarised_at
              FROM bumped AS b LEFT JOIN touched AS t ON t.incident_id = b.id
            """,
            [
                *(seen, seen, seen, seen, stamp, event.dedup_key),
                *(event.source, event.source, event.severity, event.summary, details),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    incident_id, number, state, count, summarised_count, summarised_at = row
    incident = Incident.from_db(connection.alias, ["id", "number", "state"], [incident_id, number, state])
    incident.alert_count = count
    missing_alert = summarised_count is None  # opened by hand with a dedup key: its IncidentAlert starts now
    if missing_alert or should_summarise(count, summarised_count, _as_aware(summarised_at), now):
        _settle_alert(incident, actor, event, count, now, missing_alert)
    return AlertResult(incident, event.dedup_key, False, count, event.action)


def _settle_alert(incident: Incident, actor, event: AlertEvent, count: int, now: datetime, missing: bool) -> None:
    """After a one-statement count: create a missing IncidentAlert, write a due summary.

    Rare (a hand-opened incident's first alert; powers of ten, or once an interval). It locks the
    incident first, as every other path does before touching the IncidentAlert (a resolve or an
    acknowledge holds the incident and then updates the alert row: the other order deadlocks),
    and so also serialises concurrent repeats: each reads the alert row afresh under the lock, so
    the row is created once, and every power of ten gets its summary exactly once.
    """
    with transaction.atomic():
        Incident.objects.select_for_update(no_key=True).filter(pk=incident.pk).values_list("pk").get()
        alert = IncidentAlert.objects.filter(pk=incident.pk).first()  # a new statement: current values
        if alert is None:
            alert = _alert_row(Incident.objects.get(pk=incident.pk), event)
        if missing:  # this occurrence's latest summary and details (the counting statement had no row)
            IncidentAlert.objects.filter(pk=incident.pk).update(
                source=event.source or alert.source, summary=event.summary, details=event.details
            )
        if should_summarise(count, alert.summarised_count, _as_aware(alert.summarised_at), now):
            IncidentAlert.objects.filter(pk=incident.pk).update(summarised_count=count, summarised_at=now)
            _write_summary(incident, actor, event, count, count - alert.summarised_count)


def _write_summary(incident: Incident, actor, event: AlertEvent, count: int, occurrences: int) -> None:
    """The `alert` timeline event summarising occurrences up to `count`."""
    first_seen, last_seen, source = (
        Incident.objects.filter(pk=incident.pk)
        .values_list("alert_first_seen_at", "alert_last_seen_at", "alert__source")
        .get()
    )
    events.alert(
        incident,
        actor,
        count=count,
        last_seen=_iso(last_seen),
        first_seen=_iso(first_seen),
        occurrences=occurrences,
        severity=event.severity,
        source=source,
        summary=event.summary,
        details=event.details,
    )


def _latest_closed(event: AlertEvent) -> AlertResult:
    """No open incident for the key: the latest one unchanged, or 404 if the key was never seen."""
    # Through IncidentAlert's index: the incident table has no index on closed incidents' keys.
    previous = _previous_incident(event.dedup_key)
    if previous is None:
        raise Http404(f"No incident has dedup key '{event.dedup_key}'; nothing to {event.action}.")
    return AlertResult(
        previous,
        event.dedup_key,
        False,
        previous.alert_count,
        event.action,
        changed=False,
        notes=[f"{previous.number} is already {previous.state}."],
    )


def _acknowledge(actor, event: AlertEvent) -> AlertResult:
    with transaction.atomic():
        incident = _locked_open(event.dedup_key)
        if incident is None:
            return _latest_closed(event)
        alert = _alert_row(incident, event)
        changed = False
        if incident.state == IncidentState.NEW:
            if incident.assignment_group_id is None:
                raise Conflict(
                    f"{incident.number} has no assignment group, so work cannot start; "
                    "route its service to a group or assign it in the console."
                )
            # An integration account never becomes the assignee: the routed group keeps it.
            incident = services.run_transition(incident, "start", actor=actor)
            changed = True
        if alert.acknowledged_at is None:
            IncidentAlert.objects.filter(pk=incident.pk).update(acknowledged_at=event.timestamp)
        return AlertResult(incident, event.dedup_key, False, incident.alert_count, event.action, changed=changed)


def _resolve(actor, event: AlertEvent) -> AlertResult:
    with transaction.atomic():
        incident = _locked_open(event.dedup_key)
        if incident is None:
            return _latest_closed(event)
        _alert_row(incident, event)
        route = AlertRoute.objects.filter(service_id=incident.service_id).first() if incident.service_id else None
        source = f" ({event.source})" if event.source else ""
        what = f": {event.summary}" if event.summary else "."
        if route is not None and route.on_resolve == OnResolve.ANNOTATE:
            services.add_comment(
                incident,
                actor=actor,
                body=f"Monitoring{source} reports this alert resolved at {_iso(event.timestamp)}{what} "
                "This service's alert route leaves resolving to an agent.",
                visibility=Visibility.INTERNAL,
            )
        else:
            incident = services.run_transition(
                incident,
                "resolve",
                actor=actor,
                payload={
                    "resolution_code": ResolutionCode.AUTO_RESOLVED,
                    "resolution_notes": f"Resolved by monitoring{source} at {_iso(event.timestamp)}{what}",
                },
            )
        IncidentAlert.objects.filter(pk=incident.pk).update(cleared_at=event.timestamp)
        return AlertResult(incident, event.dedup_key, False, incident.alert_count, event.action)
