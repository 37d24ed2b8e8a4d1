"""Helpers shared by test modules (not a test module: nothing here is collected).

Test modules import these instead of importing from one another (a test module imported by
another is collected twice over and couples unrelated tests).
"""

from django.db import connection


def commit() -> None:
    """Run (and drop) the test transaction's after-commit hooks, as a real commit would."""
    hooks, connection.run_on_commit[:] = list(connection.run_on_commit), []
    for _, hook, _ in hooks:
        hook()
