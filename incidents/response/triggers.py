"""Major incident trigger rules: evaluated after commit, each firing recorded exactly once.

The incident use cases (create on every channel, a priority or service change) call
`trigger_check.request_check` inside their transaction: when a rule is active, a domain event
`incident.trigger_check` {incident, event}. Its handler (`handle`, subscribed in
`IncidentsConfig.ready`) runs after commit in the worker, so a web request never waits on it
and a down broker loses nothing (the event is a row).

`evaluate` looks at the active rules in position order; the first whose conditions hold (and,
for a count rule, whose count is reached) wins. It fires at most once per incident (unique
(rule, incident), inserted in a savepoint), as the system account: `propose` (or declare) a major
incident. A count rule links the rest of its cluster to the new major incident, and a later
incident of the same cluster is linked to it instead of firing again. An incident that already
has a major incident is never evaluated.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from incidents.choices import OPEN_STATES
from incidents.models import Incident
from incidents.response.choices import TriggerAction, TriggerDecision, TriggerEvent
from incidents.response.models import TriggerFiring, TriggerRule
from incidents.response.trigger_check import EVENT_NAME  # noqa: F401  (the event this module handles)

logger = logging.getLogger(__name__)

CLUSTER_LIMIT = 500  # incidents of one service looked at for a count rule (newest first)
CRITICALITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}
RANKED = {"service.criticality": CRITICALITY_RANK, "alert.severity": SEVERITY_RANK}
INT_FIELDS = ("priority", "impact", "urgency")


# --- the domain event's handler (after commit, in the worker) -----------------------------------
def handle(event) -> None:
    """Domain event handler: evaluate the incident the event names."""
    evaluate(event.payload["incident"], event.payload.get("event") or TriggerEvent.CREATED)


# --- conditions ---------------------------------------------------------------------------------
def _category_chain(incident: Incident) -> list[int]:
    ids: list[int] = []
    category = incident.category if incident.category_id else None
    while category is not None and category.pk not in ids:
        ids.append(category.pk)
        category = category.parent if category.parent_id else None
    return ids


def field_value(incident: Incident, field: str) -> Any:
    """The incident's value of a condition field (None when it has none)."""
    service = incident.service if incident.service_id else None
    if field in INT_FIELDS:
        return getattr(incident, field)
    if field == "channel":
        return incident.channel
    if field == "service":
        return service.slug if service else None
    if field == "service.criticality":
        return service.criticality if service else None
    if field == "service.customer_facing":
        return bool(service and service.customer_facing)
    if field == "alert.severity":
        return incident.alert_severity or None
    if field == "category":
        return _category_chain(incident)
    raise ValueError(f"unknown trigger field {field!r}")


def _coerce(field: str, value: Any) -> Any:
    """A rule's value in the field's terms (numbers for numbers, booleans for the flag)."""
    if field in INT_FIELDS or field == "category":
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if field == "service.customer_facing" and isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value


def _compare(field: str, actual: Any, op: str, expected: Any) -> bool:
    if op in ("in", "not_in"):
        values = [_coerce(field, v) for v in (expected if isinstance(expected, list) else [expected])]
        hit = any(v in actual for v in values) if field == "category" else actual in values
        return hit if op == "in" else not hit
    expected = _coerce(field, expected)
    if op in ("eq", "ne"):
        hit = expected in actual if field == "category" else actual == expected
        return hit if op == "eq" else not hit
    if actual is None or field == "category":
        return False
    rank = RANKED.get(field)
    if rank is not None:
        actual, expected = rank.get(actual), rank.get(expected)
        if actual is None or expected is None:
            return False
    try:
        return {"lt": actual < expected, "lte": actual <= expected, "gt": actual > expected, "gte": actual >= expected}[
            op
        ]
    except (TypeError, KeyError):
        return False


def conditions_hold(rule: TriggerRule, incident: Incident) -> bool:
    """Every condition of `rule` holds for `incident` (no conditions: always)."""
    for condition in rule.conditions or []:
        try:
            actual = field_value(incident, condition["field"])
        except (ValueError, KeyError, TypeError):
            return False
        try:
            if not _compare(condition["field"], actual, condition.get("op"), condition.get("value")):
                return False
        except TypeError:  # a stored value of the wrong shape never matches
            return False
    return True


def describe(rule: TriggerRule) -> str:
    """The rule's conditions in words, for the proposal's reason and the firing's detail."""
    parts = [f"{c['field']} {c['op']} {c['value']}" for c in rule.conditions or []]
    if rule.count_threshold:
        parts.append(f"{rule.count_threshold} incidents on one service within {rule.window_minutes} minutes")
    return ", ".join(parts) or "any incident"


# --- evaluation ---------------------------------------------------------------------------------
def has_major_incident(incident: Incident) -> bool:
    """Linked to a major incident, or the primary of one that is not rejected."""
    from incidents.major.choices import HOLDING_STATES
    from incidents.major.models import MajorIncident

    if incident.major_incident_id is not None:
        return True
    return MajorIncident.objects.filter(incident=incident, state__in=HOLDING_STATES).exists()


def _cluster(rule: TriggerRule, incident: Incident) -> list[Incident]:
    """Open incidents of `incident`'s service opened within the window, matching the conditions,
    not yet covered by a major incident, up to the incident itself (included), newest first."""
    since = incident.opened_at - timedelta(minutes=rule.window_minutes)
    candidates = (
        Incident.objects.filter(
            service_id=incident.service_id,
            state__in=OPEN_STATES,
            opened_at__gte=since,
            opened_at__lte=incident.opened_at,
            major_incident__isnull=True,
        )
        .select_related("service", "category")
        .order_by("-opened_at", "-id")[:CLUSTER_LIMIT]
    )
    return [i for i in candidates if i.pk == incident.pk or conditions_hold(rule, i)]


def _live_cluster_major_incident(rule: TriggerRule, incident: Incident):
    """A live major incident this count rule opened for the same service within the window."""
    from incidents.major.choices import LIVE_STATES

    since = incident.opened_at - timedelta(minutes=rule.window_minutes)
    firing = (
        TriggerFiring.objects.filter(
            rule=rule,
            incident__service_id=incident.service_id,
            fired_at__gte=since,
            major_incident__state__in=LIVE_STATES,
        )
        .select_related("major_incident")
        .order_by("-id")
        .first()
    )
    return firing.major_incident if firing is not None else None


def _record(rule: TriggerRule, incident: Incident, event: str) -> TriggerFiring | None:
    """Insert the rule's firing for `incident` in a savepoint; None when it already fired."""
    if TriggerFiring.objects.filter(rule=rule, incident=incident).exists():
        return None
    try:
        with transaction.atomic():
            return TriggerFiring.objects.create(
                rule=rule, incident=incident, event=event, decision=TriggerDecision.FAILED
            )
    except IntegrityError:  # evaluated twice at once: the other evaluation fired
        return None


def _finish(firing: TriggerFiring, decision: str, detail: str, mi=None) -> TriggerFiring:
    firing.decision, firing.detail, firing.major_incident = decision, detail[:5000], mi
    firing.save(update_fields=["decision", "detail", "major_incident"])
    return firing


def _fire(rule: TriggerRule, incident: Incident, event: str, cluster: list[Incident]) -> TriggerFiring | None:
    from incidents.major import lifecycle, links
    from incidents.services import system_user
    from itsm.exceptions import Conflict

    firing = _record(rule, incident, event)
    if firing is None:
        return None
    system = system_user()
    if rule.count_threshold:
        holder = _live_cluster_major_incident(rule, incident)
        if holder is not None:
            try:
                with transaction.atomic():
                    links.link_incidents(holder, actor=system, incidents=[incident])
            except (Conflict, ValidationError, PermissionDenied) as exc:
                return _finish(firing, TriggerDecision.FAILED, f"Could not link to {holder.number}: {exc}")
            return _finish(firing, TriggerDecision.SUPPRESSED, f"Linked to {holder.number} (same cluster).", holder)
    why = describe(rule)
    if rule.count_threshold:
        why += f" ({len(cluster)} incidents on {incident.service.slug})"
    declare = rule.action == TriggerAction.DECLARE
    try:
        with transaction.atomic():
            mi = lifecycle.propose(
                actor=system, incident=incident, reason=f"Trigger rule {rule.name}: {why}", declare=declare
            )
            others = [i for i in cluster if i.pk != incident.pk]
            if others:
                links.link_incidents(mi, actor=system, incidents=others)
    except Conflict as exc:  # a major incident took it meanwhile
        return _finish(firing, TriggerDecision.SUPPRESSED, str(exc))
    except (ValidationError, PermissionDenied) as exc:
        logger.warning("trigger rule %s could not propose for %s: %s", rule.pk, incident.pk, exc)
        return _finish(firing, TriggerDecision.FAILED, str(exc))
    decision = TriggerDecision.DECLARED if declare else TriggerDecision.PROPOSED
    return _finish(firing, decision, why, mi)


@transaction.atomic
def evaluate(incident: Incident | int, event: str = TriggerEvent.CREATED) -> TriggerFiring | None:
    """Run the active rules on `incident` (first match wins); the firing, or None when none fired.

    Skipped for an incident that is no longer open or already has a major incident. Safe to run
    twice or concurrently: a rule fires once per incident.
    """
    pk = incident.pk if isinstance(incident, Incident) else incident
    incident = Incident.objects.select_related("service", "category").filter(pk=pk).first()
    if incident is None or incident.state not in OPEN_STATES or has_major_incident(incident):
        return None
    for rule in TriggerRule.objects.filter(active=True).order_by("position", "id"):
        if not conditions_hold(rule, incident):
            continue
        cluster: list[Incident] = []
        if rule.count_threshold:
            if incident.service_id is None:
                continue
            cluster = _cluster(rule, incident)
            if len(cluster) < rule.count_threshold and _live_cluster_major_incident(rule, incident) is None:
                continue
        return _fire(rule, incident, event, cluster)
    return None


# --- statistics ---------------------------------------------------------------------------------
def with_stats(rules: QuerySet[TriggerRule]) -> QuerySet[TriggerRule]:
    """Rules annotated with `fired`, `proposed` (a major incident made), and of those
    `accepted` (declared at once or later), `rejected` and `pending` (still proposed)."""
    made = Q(firings__major_incident__isnull=False) & ~Q(firings__decision=TriggerDecision.SUPPRESSED)
    return rules.annotate(
        fired=Count("firings", distinct=True),
        proposed=Count("firings", filter=made, distinct=True),
        accepted=Count(
            "firings",
            filter=made & Q(firings__major_incident__declared_at__isnull=False),
            distinct=True,
        ),
        rejected=Count("firings", filter=made & Q(firings__major_incident__state="rejected"), distinct=True),
        pending=Count("firings", filter=made & Q(firings__major_incident__state="proposed"), distinct=True),
    )
