"""`Subject`: what a notification is about, described without knowing its model."""

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Subject:
    """What a notification is about, described without knowing its model."""

    kind: str  # the kind of record, as its practice registered it with its event types
    id: int
    number: str  # the record's human number, e.g. "REC0000123"
    title: str
    url: str  # absolute link to the record in the console
    priority: int | None = None
    service_id: int | None = None
    service_ids: tuple[int, ...] = ()  # further services the record concerns
    group_id: int | None = None
    assignee_id: int | None = None
    caller_id: int | None = None
    caller_email: str = ""
    watcher_ids: tuple[int, ...] = ()
    stakeholder_emails: tuple[str, ...] = ()

    def all_service_ids(self) -> tuple[int, ...]:
        """`service_id` and `service_ids`, without repeats (rule filters and subscriptions match any)."""
        ids = ([self.service_id] if self.service_id else []) + list(self.service_ids)
        return tuple(dict.fromkeys(ids))

    def public_data(self) -> dict:
        """The fields templates and webhook receivers see (no personal addresses)."""
        data = asdict(self)
        for private in ("caller_email", "watcher_ids", "stakeholder_emails"):
            data.pop(private)
        return data
