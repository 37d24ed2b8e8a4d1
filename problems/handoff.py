"""The major incident hand-off: a closed major incident opens (or joins) a problem.

Filled in by the hand-off work; `connect()` subscribes to the `major_incident.closed` domain event.
"""


def connect() -> None:
    """Subscribe the hand-off to `major_incident.closed` (called from ProblemsConfig.ready())."""
