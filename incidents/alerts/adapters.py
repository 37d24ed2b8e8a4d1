"""Webhook adapters: Prometheus Alertmanager (payload version 4) and Grafana alerting.

Both tools post a group of alerts in one payload. Each alert is mapped to an event and handled
on its own (its own transaction), so one bad alert never rejects the others:

- dedup key: the alert's `fingerprint` (Alertmanager >= 0.19, Grafana >= 9); without one, a hash
  of its sorted labels, which is what the fingerprint is computed from anyway;
- `status` `firing` -> trigger, `resolved` -> resolve;
- summary: `annotations.summary`, else `labels.alertname`;
- severity: `labels.severity`, with common spellings mapped (page -> critical, warn -> warning,
  ...); absent or unknown -> `error`;
- service: the label named by ALERT_SERVICE_LABEL (default `service`), a service slug;
- source: `labels.instance`, else `labels.job`, else the tool's name;
- details: labels, annotations, times and links (Grafana adds values, silence and panel links).

The answer lists one result per alert, in order. The payload is refused (400) only when no alert
in it is usable: it is not an object, has no alerts, or every alert fails validation.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from incidents.alerts import conf
from incidents.alerts.services import MAX_SOURCE, MAX_SUMMARY, ingest_event
from itsm import exceptions as domain
from itsm.api.errors import flatten_errors

SEVERITY_ALIASES = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "p1": "critical",
    "emergency": "critical",
    "disaster": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "warning": "warning",
    "warn": "warning",
    "average": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "info": "info",
    "informational": "info",
    "low": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
}
DEFAULT_SEVERITY = "error"
STATUS_ACTIONS = {"firing": "trigger", "resolved": "resolve"}
ZERO_TIME_PREFIX = "0001-01-01"  # Go's zero time: "not ended yet"
ALERTMANAGER_DETAIL_KEYS = ("startsAt", "endsAt", "generatorURL", "fingerprint")
GRAFANA_DETAIL_KEYS = (
    *ALERTMANAGER_DETAIL_KEYS,
    "silenceURL",
    "dashboardURL",
    "panelURL",
    "imageURL",
    "values",
    "valueString",
)
GROUP_DETAIL_KEYS = ("receiver", "groupKey", "externalURL", "orgId")


@dataclass
class BatchResult:
    """Per-alert results of one webhook payload, in payload order."""

    results: list[dict[str, Any]] = field(default_factory=list)
    succeeded: int = 0
    invalid: int = 0  # alerts that failed validation (the 400 case when all of them did)
    errors: dict[str, list[str]] = field(default_factory=dict)  # "alerts.<i>.<field>" -> messages

    @property
    def usable(self) -> bool:
        return len(self.results) > self.invalid


def fingerprint_of(labels: dict[str, str]) -> str:
    """A stable key for an alert without a fingerprint: a hash of its sorted labels."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _string_map(value, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValidationError({name: ["Must be an object of label names to values."]})
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def _bounded_details(details: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """Keep details within ALERT_DETAILS_MAX_BYTES: drop the bulky parts before refusing the alert."""
    limit = conf.details_max_bytes()
    if len(json.dumps(details, separators=(",", ":"), ensure_ascii=False).encode()) <= limit:
        return details
    return {"labels": labels, "truncated": True}


def alert_to_event(alert, payload: dict, *, tool: str, detail_keys: tuple[str, ...]) -> dict[str, Any]:
    """The keyword arguments of `ingest_event` for one alert of a grouped payload."""
    if not isinstance(alert, dict):
        raise ValidationError({"non_field_errors": ["An alert must be a JSON object."]})
    labels = _string_map(alert.get("labels"), "labels")
    annotations = _string_map(alert.get("annotations"), "annotations")
    status = alert.get("status") or payload.get("status")
    if status not in STATUS_ACTIONS:
        raise ValidationError({"status": [f"Must be firing or resolved, not {status!r}."]})
    action = STATUS_ACTIONS[status]
    fingerprint = alert.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint.strip():
        if not labels:
            raise ValidationError({"fingerprint": ["An alert needs a fingerprint or labels to identify it."]})
        fingerprint = fingerprint_of(labels)
    summary = (annotations.get("summary") or labels.get("alertname") or "").strip()
    raw_severity = labels.get("severity", "").strip().lower()
    details: dict[str, Any] = {"labels": labels, "annotations": annotations}
    details |= {key: alert[key] for key in detail_keys if alert.get(key) not in (None, "")}
    details |= {key: payload[key] for key in GROUP_DETAIL_KEYS if payload.get(key) not in (None, "")}
    ends_at = alert.get("endsAt")
    timestamp = None
    if action == "resolve" and isinstance(ends_at, str) and not ends_at.startswith(ZERO_TIME_PREFIX):
        timestamp = ends_at
    return {
        "action": action,
        "dedup_key": fingerprint.strip(),
        "summary": summary[:MAX_SUMMARY],
        "source": (labels.get("instance") or labels.get("job") or tool)[:MAX_SOURCE],
        "severity": SEVERITY_ALIASES.get(raw_severity, DEFAULT_SEVERITY),
        "service": labels.get(conf.service_label()) or None,
        "details": _bounded_details(details, labels),
        "timestamp": timestamp,
    }


def _error(type_: str, detail: str, errors: dict | None = None) -> dict[str, Any]:
    return {"type": type_, "detail": detail, "errors": errors or {}}


def _validation_error(exc: ValidationError) -> dict[str, Any]:
    errors = flatten_errors(exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages})
    fields = ", ".join(sorted(k for k in errors if k != "non_field_errors"))
    return _error("validation_error", f"Invalid alert: {fields}." if fields else "Invalid alert.", errors)


def ingest_batch(
    actor, payload, *, tool: str, detail_keys: tuple[str, ...], ingest: Callable[..., Any] = ingest_event
) -> BatchResult:
    """Handle every alert of a grouped payload on its own; see the module docstring."""
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": ["The payload must be a JSON object."]})
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise ValidationError({"alerts": ["A non-empty list of alerts is required."]})
    batch = BatchResult()
    for index, alert in enumerate(alerts):
        key = alert.get("fingerprint") if isinstance(alert, dict) else None
        try:
            event = alert_to_event(alert, payload, tool=tool, detail_keys=detail_keys)
            key = event["dedup_key"]
            result = ingest(actor, **event)
        except ValidationError as exc:
            body = _validation_error(exc)
            batch.invalid += 1
            for name, messages in body["errors"].items():
                batch.errors[f"alerts.{index}.{name}"] = messages
            batch.results.append({"dedup_key": key, "error": body})
            continue
        except Http404 as exc:
            batch.results.append({"dedup_key": key, "error": _error("not_found", str(exc))})
            continue
        except domain.Conflict as exc:
            batch.results.append({"dedup_key": key, "error": _error("conflict", exc.detail, exc.errors)})
            continue
        except domain.InvalidTransition as exc:
            batch.results.append({"dedup_key": key, "error": _error("invalid_transition", exc.detail)})
            continue
        except PermissionDenied as exc:
            batch.results.append({"dedup_key": key, "error": _error("permission_denied", str(exc))})
            continue
        batch.succeeded += 1
        batch.results.append(
            {
                "dedup_key": result.dedup_key,
                "incident": {"id": result.incident.pk, "number": result.incident.number},
                "created": result.created,
                "alert_count": result.alert_count,
                "action": result.action,
                "state": result.incident.state,
            }
        )
    return batch


def ingest_alertmanager(actor, payload) -> BatchResult:
    """A Prometheus Alertmanager webhook (version 4 payload)."""
    return ingest_batch(actor, payload, tool="alertmanager", detail_keys=ALERTMANAGER_DETAIL_KEYS)


def ingest_grafana(actor, payload) -> BatchResult:
    """A Grafana alerting (unified alerting) webhook: Alertmanager's shape plus Grafana's links and values."""
    return ingest_batch(actor, payload, tool="grafana", detail_keys=GRAFANA_DETAIL_KEYS)
