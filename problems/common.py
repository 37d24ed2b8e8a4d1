"""Helpers every problem use case shares: lock the record, check the client's version, require
a policy decision, save with a version bump, serialise a value for the timeline."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import models

from incidents.policy import Decision
from itsm.exceptions import StaleRecord
from problems.models import Problem


def pk_of(value) -> int | None:
    return value.pk if isinstance(value, models.Model) else value


def lock(problem_or_id: Problem | int) -> Problem:
    """The problem, re-read and row-locked for the rest of the transaction."""
    return Problem.objects.select_for_update().get(pk=pk_of(problem_or_id))


def check_version(problem: Problem, expected_version: int | None) -> None:
    """412 (StaleRecord) when the client read another version than the stored one."""
    if expected_version is not None and expected_version != problem.version:
        raise StaleRecord(
            f"{problem.number} changed since you read it (version {problem.version}, you had {expected_version})."
        )


def require(decision: Decision) -> None:
    """403 with the decision's reason when it refuses."""
    if not decision:
        raise PermissionDenied(decision.reason)


def save(problem: Problem) -> None:
    """Save with `version` bumped (the ETag changes with every change)."""
    problem.version += 1
    problem.save()


def plain(value):
    """A JSON-friendly form of a field value for the timeline (ids for records, ISO for times)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime):
        return value.isoformat()
    return value
