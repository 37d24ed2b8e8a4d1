"""Abstract bases of every practice's append-only history (incidents, major incidents, problems).

A practice declares one concrete subclass per record type: its record foreign key, named by
`record_field`, and (optionally) a `type` with its own choices. Writing goes through
`itsm.timeline.Timeline`; reading several timelines as one through `itsm.timeline.merged`.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class AppendOnlyModel(models.Model):
    """Rows are written once: updating or deleting one through the model is a programming error.

    Only instance `save()` of an existing row (without `force_insert`) and instance `delete()` are
    refused. Queryset `update()` and `delete()` are left alone on purpose: Django's collector uses
    them when a referenced row goes (a deleted record cascades, a deleted user's `actor` is set
    to NULL), and no use case calls them.
    """

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Insert the row; refuse to update one that was already written."""
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValidationError(f"{type(self).__name__} is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Always refused: history is never deleted row by row."""
        raise ValidationError(f"{type(self).__name__} is append-only.")


class TimelineEntry(AppendOnlyModel):
    """One entry of a record's append-only history: what happened (`type`, `data`), who, when.

    Subclasses add the foreign key to their record and name it in `record_field`; they may
    redeclare `type` with their own choices (same column: `CharField(max_length=20)`).
    """

    record_field: ClassVar[str] = ""

    type = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        record_id = getattr(self, f"{self.record_field}_id", None) if self.record_field else None
        return f"{self.type} on {record_id}"
