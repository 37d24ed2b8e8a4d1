"""Alert and email intake settings, read from the environment (defaults in brackets).

- ALERT_SERVICE_LABEL [service]: the Alertmanager/Grafana label naming the service (a slug).
- ALERT_DETAILS_MAX_BYTES [65536]: largest `details` object accepted, as compact JSON.
- ALERT_SEVERITY_MAP [see DEFAULT_SEVERITY_MAP]: the global severity -> impact/urgency mapping,
  as JSON (`{"critical": {"impact": 1, "urgency": 1}, ...}`); per-service routes override it.
- ALERT_SUMMARY_INTERVAL_MINUTES [60]: a repeated alert writes an `alert` timeline event at
  least this often while it keeps firing (besides one per power of ten of its count).
- IMAP_URL [unset]: `imaps://user:password@host[:port]/FOLDER` for `manage.py ingest_mail`.
- IMAP_FAILED_FOLDER [ITSM-failed]: where malformed messages are moved on the IMAP server.
- INBOUND_EMAIL_USER [email-intake]: the integration account `ingest_mail` acts as.

They are read on each call (cheap) so tests can change the environment.
"""

import json
import os

from django.core.exceptions import ImproperlyConfigured

# ITIL-style default: critical is P1, error P2, warning P3, info P5 (through the default matrix).
DEFAULT_SEVERITY_MAP: dict[str, dict[str, int]] = {
    "critical": {"impact": 1, "urgency": 1},
    "error": {"impact": 2, "urgency": 1},
    "warning": {"impact": 2, "urgency": 2},
    "info": {"impact": 3, "urgency": 3},
}


def service_label() -> str:
    return os.environ.get("ALERT_SERVICE_LABEL", "service") or "service"


def details_max_bytes() -> int:
    return int(os.environ.get("ALERT_DETAILS_MAX_BYTES", "65536"))


def summary_interval_minutes() -> int:
    return int(os.environ.get("ALERT_SUMMARY_INTERVAL_MINUTES", "60"))


def severity_map() -> dict[str, dict[str, int]]:
    """The global default mapping, with ALERT_SEVERITY_MAP's entries laid over it."""
    raw = os.environ.get("ALERT_SEVERITY_MAP", "").strip()
    if not raw:
        return DEFAULT_SEVERITY_MAP
    try:
        override = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"ALERT_SEVERITY_MAP is not JSON: {exc}") from exc
    from incidents.models.alerts import validate_severity_map

    try:
        validate_severity_map(override)
    except Exception as exc:
        raise ImproperlyConfigured(f"ALERT_SEVERITY_MAP: {exc}") from exc
    return {**DEFAULT_SEVERITY_MAP, **override}


def imap_url() -> str:
    return os.environ.get("IMAP_URL", "").strip()


def imap_failed_folder() -> str:
    return os.environ.get("IMAP_FAILED_FOLDER", "ITSM-failed")


def inbound_email_user() -> str:
    return os.environ.get("INBOUND_EMAIL_USER", "email-intake")
