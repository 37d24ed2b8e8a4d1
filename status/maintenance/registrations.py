"""Maintenance registrations (event types, templates, samples, SLA pause source)."""


def register() -> None:
    """Filled by the maintenance work."""
