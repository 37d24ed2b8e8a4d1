"""Domain errors raised by every practice's services; the API maps them to status codes.

Services raise these (or Django's ValidationError / PermissionDenied) and know nothing of HTTP:
ValidationError -> 400, PermissionDenied -> 403, InvalidTransition -> 409, StaleRecord -> 412.
"""


class InvalidTransition(Exception):
    """A transition not allowed from the record's current state."""

    def __init__(self, record_label: str, name: str, current_state: str, available: list[str], reason: str = ""):
        self.name = name
        self.current_state = current_state
        self.available = available
        detail = reason or (
            f"'{name}' is not allowed while {record_label} is {current_state}; "
            f"available now: {', '.join(available) if available else 'none'}."
        )
        super().__init__(detail)
        self.detail = detail


class StaleRecord(Exception):
    """The client's If-Match (version) no longer matches the record."""

    def __init__(self, detail: str = "The record changed since you read it; fetch it again and retry."):
        super().__init__(detail)
        self.detail = detail


class Conflict(Exception):
    """A valid request that conflicts with existing data (a duplicate, a link held elsewhere)."""

    def __init__(self, detail: str, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}
