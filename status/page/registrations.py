"""Status page registrations (event types, templates, samples, cache invalidation)."""


def register() -> None:
    """Filled by the status-page work."""
