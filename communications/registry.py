"""Event types and record kinds that notifications may be about.

Communications registers its built-in types on import; other apps add theirs with
`register_event_types()` in `AppConfig.ready()`. Rules, endpoints, subscriptions and templates
name event types; an unknown name is refused, and `emit()` with one raises ValueError.

A pattern in a rule or an endpoint is an exact type, `prefix.*` (every type starting with
`prefix.`) or `*` (every type). Internal types (`webhook.test`, `notification.digest`) are
never matched by patterns: they are sent by the app itself.
"""

from collections.abc import Iterable

BUILTIN_EVENT_TYPES: dict[str, str] = {
    "incident.created": "Incident created",
    "incident.assigned": "Incident assigned",
    "incident.state_changed": "Incident state changed",
    "incident.commented": "Incident commented",
    "sla.warning": "SLA warning",
    "sla.breached": "SLA breached",
    "major_incident.proposed": "Major incident proposed",
    "major_incident.declared": "Major incident declared",
    "major_incident.update_posted": "Major incident update posted",
    "major_incident.resolved": "Major incident resolved",
    "major_incident.closed": "Major incident closed",
    "problem.known_error": "Problem is a known error",
    "problem.resolved": "Problem resolved",
}
WEBHOOK_TEST = "webhook.test"
DIGEST = "notification.digest"
INTERNAL_EVENT_TYPES: dict[str, str] = {WEBHOOK_TEST: "Webhook test event", DIGEST: "Digest of notifications"}

_event_types: dict[str, str] = {}
_subject_kinds: set[str] = {"incident", "major_incident", "problem"}


def _label(name: str) -> str:
    return name.replace(".", " ").replace("_", " ").capitalize()


def register_event_types(*names: str, labels: dict[str, str] | None = None) -> None:
    """Make event types known (idempotent). Call from `AppConfig.ready()`."""
    for name in names:
        if not name or "*" in name or "." not in name or name != name.strip():
            raise ValueError(f"Invalid event type name {name!r}: use 'area.event', no spaces or '*'.")
        _event_types[name] = (labels or {}).get(name) or _event_types.get(name) or _label(name)


def register_subject_kinds(*kinds: str) -> None:
    """Make record kinds known for record subscriptions (idempotent)."""
    _subject_kinds.update(kinds)


def event_types() -> list[str]:
    """The registered public event types, sorted."""
    return sorted(_event_types)


def subject_kinds() -> list[str]:
    return sorted(_subject_kinds)


def label(name: str) -> str:
    """A human label of an event type."""
    return _event_types.get(name) or INTERNAL_EVENT_TYPES.get(name) or _label(name)


def is_registered(name: str, *, internal: bool = False) -> bool:
    """True for a registered public type (and for the internal ones when `internal`)."""
    return name in _event_types or (internal and name in INTERNAL_EVENT_TYPES)


def pattern_choices() -> list[str]:
    """Every valid pattern: `*`, each `prefix.*` and each exact type."""
    prefixes = sorted({name.split(".", 1)[0] + ".*" for name in _event_types})
    return ["*", *prefixes, *event_types()]


def is_valid_pattern(pattern: str) -> bool:
    if not isinstance(pattern, str):
        return False
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return any(name.startswith(prefix) for name in _event_types)
    return pattern in _event_types


def invalid_patterns(patterns: Iterable) -> list[str]:
    """The entries of `patterns` that name no registered event type."""
    return [str(p) for p in patterns if not is_valid_pattern(p)]


def matches(patterns: Iterable[str], event_type: str) -> bool:
    """True if any pattern selects `event_type`."""
    if event_type in INTERNAL_EVENT_TYPES:
        return False
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


register_event_types(*BUILTIN_EVENT_TYPES, labels=BUILTIN_EVENT_TYPES)
