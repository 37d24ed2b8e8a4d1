"""The dimensions a report groups by, and the labels of their values.

A report groups by the key (an id or a choice value) so the database sorts small integers, then
names the keys it found in one query per dimension. `prefix` lets a report over another table
group by its incident's dimensions (e.g. `incident__` from SLA clocks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Model

from incidents.choices import Channel
from itsm.choices import Priority
from itsm.models import AssignmentGroup, Category, Service

NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Dimension:
    """One way to split rows: the model field holding the key and how keys become labels."""

    name: str
    field: str
    model: type[Model] | None = None
    label_field: str = "name"
    choices: dict | None = None

    def labels(self, keys: Iterable) -> dict:
        """{key: label} for the keys found (None is "(none)")."""
        keys = {k for k in keys if k is not None}
        if self.choices is not None:
            found = {k: str(self.choices.get(k, k)) for k in keys}
        elif self.model is not None and keys:
            found = dict(self.model.objects.filter(pk__in=keys).values_list("pk", self.label_field))
        else:
            found = {}
        return {**{k: str(k) for k in keys}, **found, None: NONE_LABEL}


def _dimensions() -> dict[str, Dimension]:
    return {
        "priority": Dimension("priority", "priority", choices=dict(Priority.choices)),
        "service": Dimension("service", "service_id", Service),
        "category": Dimension("category", "category_id", Category),
        "assignment_group": Dimension("assignment_group", "assignment_group_id", AssignmentGroup),
        "assignee": Dimension("assignee", "assignee_id", get_user_model(), label_field="username"),
        "channel": Dimension("channel", "channel", choices=dict(Channel.choices)),
    }


def dimension(name: str) -> Dimension:
    """The incident dimension called `name` (a GROUP_BYS value)."""
    return _dimensions()[name]
