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


def commit_bumps() -> None:
    """Run only the pending configuration-cache bumps, as a commit would (the test transaction never commits)."""
    from itsm import configcache

    hooks = [h for h in connection.run_on_commit if getattr(h[1], "owner", None) is configcache.CONFIG]
    connection.run_on_commit = [h for h in connection.run_on_commit if h not in hooks]
    for _, hook, _ in hooks:
        hook()
