"""The known error database: one article per problem that became a known error, and its uses."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from problems.choices import KnownErrorState, KnownErrorUseKind
from problems.models.problem import Problem


class KnownError(models.Model):
    """A published known error (KEDB article): a problem whose root cause or workaround is known.

    Written by `mark_known_error` and kept in sync with its problem by the problem's use cases
    (never edited on its own); retired when the problem closes with a permanent fix, or is
    cancelled. `uses` counts workarounds applied; deflections are counted from the uses.
    """

    problem = models.OneToOneField(Problem, on_delete=models.CASCADE, related_name="known_error")
    title = models.CharField(max_length=255)
    symptoms = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    services = models.ManyToManyField("itsm.Service", blank=True, related_name="known_errors")
    categories = models.ManyToManyField("itsm.Category", blank=True, related_name="known_errors")
    state = models.CharField(
        max_length=10, choices=KnownErrorState.choices, default=KnownErrorState.PUBLISHED, db_index=True
    )
    published_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    uses = models.PositiveIntegerField(default=0, help_text="Times the workaround was applied.")
    deflections = models.PositiveIntegerField(
        default=0, help_text="Incidents resolved with the workaround, plus self-service fixes without an incident."
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.problem.number if self.problem_id else '?'}: {self.title}"


class KnownErrorUse(models.Model):
    """One use of a known error: its workaround applied to an incident, or a self-service fix.

    An incident applies a known error once (unique). `deflected` becomes true when the incident
    is resolved with the workaround (and at once for a self-service fix); `KnownError.deflections`
    counts these rows.
    """

    known_error = models.ForeignKey(KnownError, on_delete=models.CASCADE, related_name="usages")
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="known_error_uses"
    )
    kind = models.CharField(max_length=12, choices=KnownErrorUseKind.choices, default=KnownErrorUseKind.APPLIED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    deflected = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["known_error", "incident"],
                condition=Q(incident__isnull=False),
                name="known_error_applied_once_per_incident",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of known error {self.known_error_id}"
