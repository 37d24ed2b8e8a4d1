"""Tasks for tests.

`TaskFactory(**fields)` stores a task directly (on a new incident unless `incident=` or
`major_incident=` is given; `state=` sets the state with its timestamps), for tests of what
happens *to* a task; tests of the use cases go through `incidents.response.worktasks`.
"""

from __future__ import annotations

import factory
from django.utils import timezone

from incidents.response.models import Task
from tests.incidents.factories import IncidentFactory

STAMPS = {"in_progress": ["started_at"], "done": ["completed_at"], "cancelled": ["cancelled_at"]}


class TaskFactory(factory.django.DjangoModelFactory):
    """A stored task; `next_reminder_at` follows `due_at` while open."""

    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
    position = factory.Sequence(lambda n: n)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if kwargs.get("incident") is None and kwargs.get("major_incident") is None:
            kwargs["incident"] = IncidentFactory()
        state = kwargs.get("state", "open")
        for name in STAMPS.get(state, []):
            kwargs.setdefault(name, timezone.now())
        if state in ("open", "in_progress"):
            kwargs.setdefault("next_reminder_at", kwargs.get("due_at"))
        return super()._create(model_class, *args, **kwargs)
