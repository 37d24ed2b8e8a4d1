"""Tasks on problems: what the task model (incidents.response) needs to know about a problem record.

Filled in by the problem-tasks work; `register()` is called from ProblemsConfig.ready().
"""


def register() -> None:
    """Register the problem as a record tasks can belong to."""
