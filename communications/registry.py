"""What the practices register with communications: event types, default rules, templates and
sample contexts. Communications itself knows only its internal events.

Each practice calls these from its `AppConfig.ready()` (by convention in its `registrations.py`):

- `register_event_types(*names, labels=..., subject_kind=...)`: the events it emits. Rules,
  endpoints, subscriptions and templates name event types; an unknown name is refused, and
  `emit()` with one raises ValueError. `subject_kind` is the kind of record the events are about
  (`Subject.kind`); record subscriptions accept the kinds registered this way.
- `register_default_rules({name: fields})`: the rules a fresh installation starts with, created
  once each after `migrate` (`defaults.install_default_rules`).
- `register_templates(directory, *patterns)`: where the shipped messages of its events live:
  `<directory>/<event>/<channel>_<part>`, then `<directory>/_default/<channel>_<part>`, then
  communications' own `communications/_default/...`.
- `register_samples(factory, *patterns)`: `factory(event) -> (Subject, context)`, a plausible
  record for template previews and for validating administrators' templates.

A pattern in a rule, an endpoint or a registration is an exact type, `prefix.*` (every type
starting with `prefix.`) or `*` (every type). Internal types (`webhook.test`,
`notification.digest`) are never matched by rule patterns: they are sent by the app itself.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .subject import Subject

WEBHOOK_TEST = "webhook.test"
DIGEST = "notification.digest"
INTERNAL_EVENT_TYPES: dict[str, str] = {WEBHOOK_TEST: "Webhook test event", DIGEST: "Digest of notifications"}

SampleFactory = Callable[[str], tuple[Subject, dict]]


@dataclass(frozen=True)
class _Registered:
    patterns: tuple[str, ...]
    value: object


_event_types: dict[str, str] = {}
_subject_kinds: set[str] = set()
_for_listeners: set[str] = set()
_default_rules: dict[str, dict] = {}
_templates: list[_Registered] = []  # value: a template directory
_samples: list[_Registered] = []  # value: a SampleFactory


def _label(name: str) -> str:
    return name.replace(".", " ").replace("_", " ").capitalize()


def register_event_types(
    *names: str, labels: Mapping[str, str] | None = None, subject_kind: str = "", for_listeners: bool = False
) -> None:
    """Make event types known (idempotent). Call from `AppConfig.ready()`.

    `labels` maps names to human labels (default: derived from the name); `subject_kind` names
    the kind of record these events are about, so people can subscribe to one such record.
    `for_listeners`: the events are internal (never to subscribers or outsiders) yet meant for the
    endpoints that listen to them, `include_internal` or not (a page to a chat channel).
    """
    for name in names:
        if not name or "*" in name or "." not in name or name != name.strip():
            raise ValueError(f"Invalid event type name {name!r}: use 'area.event', no spaces or '*'.")
        _event_types[name] = (labels or {}).get(name) or _event_types.get(name) or _label(name)
        if for_listeners:
            _for_listeners.add(name)
    if subject_kind:
        _subject_kinds.add(subject_kind)


def is_for_listeners(event_type: str) -> bool:
    """Registered with `for_listeners`: listening endpoints receive it even though it is internal."""
    return event_type in _for_listeners


def register_default_rules(rules: Mapping[str, Mapping]) -> None:
    """Declare default notification rules: name -> `NotificationRule` fields (email unless a
    `channel` is given). Each is created once, after `migrate`; administrators then change,
    deactivate or delete it, and a deleted one stays deleted. Their events must be registered."""
    for name, fields in rules.items():
        unknown = invalid_patterns(fields.get("events", []))
        if unknown:
            raise ValueError(f"Default rule {name!r} names unregistered event types: {', '.join(unknown)}.")
        _default_rules[name] = dict(fields)


def register_templates(directory: str, *patterns: str) -> None:
    """Ship the messages of the events matching `patterns` from template `directory`."""
    _templates.append(_Registered(_patterns(patterns), directory.rstrip("/")))


def register_samples(factory: SampleFactory, *patterns: str) -> None:
    """Sample records for the events matching `patterns`: `factory(event) -> (Subject, context)`."""
    _samples.append(_Registered(_patterns(patterns), factory))


def _patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ValueError("Name at least one event type or pattern.")
    return patterns


def _latest(registered: list[_Registered], event: str):
    """The value of the last registration whose patterns select `event` (later ones win)."""
    for entry in reversed(registered):
        if any(_selects(pattern, event) for pattern in entry.patterns):
            return entry.value
    return None


def _selects(pattern: str, event_type: str) -> bool:
    return pattern == "*" or pattern == event_type or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))


# --- reading the registrations ---------------------------------------------------------------------


def event_types() -> list[str]:
    """The registered public event types, sorted."""
    return sorted(_event_types)


def subject_kinds() -> list[str]:
    """The record kinds that registered event types are about, sorted."""
    return sorted(_subject_kinds)


def default_rules() -> dict[str, dict]:
    """The registered default rules: name -> fields."""
    return {name: dict(fields) for name, fields in _default_rules.items()}


def template_directories(event: str) -> list[str]:
    """Where the shipped messages of `event` are looked up, first match wins."""
    directory = _latest(_templates, event)
    return [directory] if directory else []


def sample_factory(event: str) -> SampleFactory | None:
    """The registered sample factory of `event`, if any."""
    return _latest(_samples, event)


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
    return any(_selects(pattern, event_type) for pattern in patterns)
