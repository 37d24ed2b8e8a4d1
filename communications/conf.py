"""Settings of the communications app, read where they are used.

`itsm/settings.py` does not name them: each is `getattr(settings, NAME)` when a deployment (or a
test's `settings` fixture) sets it, otherwise the environment variable of the same name, otherwise
the default below. Functions, not constants, so that overrides take effect without re-imports.
"""

import environ
from django.conf import settings

_env = environ.Env()


def _get(name: str, cast, default):
    if hasattr(settings, name):
        return cast(getattr(settings, name))
    if cast is bool:
        return _env.bool(name, default=default)
    return cast(_env.str(name, default=str(default)))


def max_attempts() -> int:
    """Delivery attempts before a notification is `dead` (NOTIFICATION_MAX_ATTEMPTS, default 8)."""
    return max(1, _get("NOTIFICATION_MAX_ATTEMPTS", int, 8))


def backoff_base_seconds() -> float:
    """First retry delay; doubles per attempt (NOTIFICATION_BACKOFF_BASE_SECONDS, default 30)."""
    return max(0.0, _get("NOTIFICATION_BACKOFF_BASE_SECONDS", float, 30.0))


def backoff_max_seconds() -> float:
    """Cap of the retry delay (NOTIFICATION_BACKOFF_MAX_SECONDS, default 3600)."""
    return max(0.0, _get("NOTIFICATION_BACKOFF_MAX_SECONDS", float, 3600.0))


def dedup_window_seconds() -> int:
    """Storm-control window (NOTIFICATION_DEDUP_WINDOW_SECONDS, default 300)."""
    return max(0, _get("NOTIFICATION_DEDUP_WINDOW_SECONDS", int, 300))


def digest_threshold() -> int:
    """Deliveries to one recipient within the window after which the rest become a digest
    (NOTIFICATION_DIGEST_THRESHOLD, default 10; 0 turns digests off)."""
    return max(0, _get("NOTIFICATION_DIGEST_THRESHOLD", int, 10))


def digest_delay_seconds() -> int:
    """How long held notifications wait to be collected into one digest (default 60)."""
    return max(0, _get("NOTIFICATION_DIGEST_DELAY_SECONDS", int, 60))


def sweep_grace_seconds() -> float:
    """Age after which the sweep assumes a pending row's hand-off was lost (default 30)."""
    return max(0.0, _get("NOTIFICATION_SWEEP_GRACE_SECONDS", float, 30.0))


def requeue_interval_seconds() -> float:
    """The sweep re-publishes the same pending row at most this often (default 120)."""
    return max(0.0, _get("NOTIFICATION_REQUEUE_INTERVAL_SECONDS", float, 120.0))


def sending_timeout_seconds() -> float:
    """A row `sending` for longer than this lost its worker (default 300; must exceed the
    network timeouts below)."""
    return max(1.0, _get("NOTIFICATION_SENDING_TIMEOUT_SECONDS", float, 300.0))


def webhook_timeout_seconds() -> float:
    """Timeout of every outbound HTTP call (WEBHOOK_TIMEOUT_SECONDS, default 10)."""
    return max(0.1, _get("WEBHOOK_TIMEOUT_SECONDS", float, 10.0))


def email_timeout_seconds() -> float:
    """Timeout of every SMTP connection (NOTIFICATION_EMAIL_TIMEOUT_SECONDS, default 30)."""
    return max(0.1, _get("NOTIFICATION_EMAIL_TIMEOUT_SECONDS", float, 30.0))


def allow_private_networks() -> bool:
    """SSRF switch: allow webhook URLs on private/loopback ranges (WEBHOOK_ALLOW_PRIVATE_NETWORKS)."""
    return _get("WEBHOOK_ALLOW_PRIVATE_NETWORKS", bool, False)


def site_url() -> str:
    """Absolute base URL for links in messages (ITSM_SITE_URL)."""
    return str(getattr(settings, "ITSM_SITE_URL", "http://127.0.0.1:8000")).rstrip("/")
