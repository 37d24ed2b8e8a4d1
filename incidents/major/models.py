"""Major incident records: the record and its lifecycle, responders, stakeholder updates, the
post-incident review and its action items, the timeline, and the practice's settings.

The models carry the `incidents` app label (`incidents.models` re-exports them). State changes
only through the transitions of `MajorIncident` (protected field); the use cases in this package
lock the row, run the transition, bump `version` (the ETag) and write the timeline together.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from incidents.major import policy
from incidents.major.choices import (
    HOLDING_STATES,
    Audience,
    MajorIncidentState,
    MajorTimelineType,
    StatusLevel,
    UpdateStatus,
)
from itsm.models import AppendOnlyModel, TimelineEntry

S = MajorIncidentState


class MajorIncidentSettings(models.Model):
    """Practice settings an administrator changes in the console (a single row)."""

    cadence_p1_minutes = models.PositiveIntegerField(
        default=30, help_text="Stakeholder update cadence of a major incident whose primary incident is P1."
    )
    cadence_default_minutes = models.PositiveIntegerField(
        default=60, help_text="Stakeholder update cadence of every other major incident."
    )
    repage_after_minutes = models.PositiveIntegerField(
        default=5, help_text="An unacknowledged page is sent again after this many minutes."
    )
    max_pages = models.PositiveIntegerField(
        default=3, help_text="Pages per responder (the first included) before the manager is told."
    )
    responder_hourly_rate = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("100.00"),
        help_text="Cost of one responder-hour, for the response effort cost (never added to downtime cost).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "major incident settings"
        verbose_name_plural = "major incident settings"

    def __str__(self) -> str:
        return "Major incident settings"

    @classmethod
    def current(cls) -> MajorIncidentSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# --- transition conditions ----------------------------------------------------------------------
def has_rejection_reason(mi: MajorIncident) -> bool:
    return bool((mi.rejection_reason or "").strip())


def review_is_complete(mi: MajorIncident) -> bool:
    review = getattr(mi, "review", None)
    return review is not None and not review.missing()


class MajorIncident(FSMModelMixin, models.Model):
    """An incident whose impact demands an immediate, coordinated response (ITIL major incident).

    One per primary incident (a rejected proposal frees the incident). Linked incidents point at
    it through `Incident.major_incident` (the primary too). Costs are computed live while the
    major incident is active and frozen into `estimated_cost` / `response_effort_cost` at resolve.
    """

    number = models.CharField(max_length=16, unique=True, editable=False)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="major_incidents",
        help_text="The primary incident.",
    )
    state = FSMField(default=S.PROPOSED, choices=S.choices, protected=True, db_index=True)
    title = models.CharField(max_length=255)

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="managed_major_incidents",
        help_text="The major incident manager (incident commander).",
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tech_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stakeholders = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="major_incidents_informed",
        help_text="People kept informed of internal updates (external people subscribe instead).",
    )
    bridge_url = models.URLField(blank=True, max_length=500)
    chat_channel = models.CharField(max_length=200, blank=True)
    affected_services = models.ManyToManyField("itsm.Service", blank=True, related_name="major_incidents")
    impact_summary = models.TextField(blank=True)
    customers_affected = models.PositiveIntegerField(null=True, blank=True)

    reason = models.TextField(help_text="Why this is a major incident (the proposal's reason).")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    rejection_reason = models.TextField(blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)

    impact_started_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    declared_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    review_started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    update_cadence_minutes = models.PositiveIntegerField(default=60)
    update_draft = models.TextField(blank=True, help_text="The next update's draft (pre-filled by the response plan).")
    problem = models.ForeignKey(
        "problems.Problem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="major_incidents",
        help_text="The problem investigating this major incident's cause (set by problem management).",
    )
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    # The overdue reminder sweep: the due moment of the period last reminded (once per period).
    update_reminded_for = models.DateTimeField(null=True, blank=True)

    estimated_cost = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="Frozen at resolve (live before)."
    )
    response_effort_cost = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="Frozen at resolve (live before)."
    )

    # The public status page.
    public = models.BooleanField(default=True, help_text="Shown on the public status page once declared.")
    status_level = models.CharField(
        max_length=16,
        choices=[c for c in StatusLevel.choices if c[0] not in ("operational", "maintenance")],
        blank=True,
        help_text="The affected services' level on the status page; empty: derived from the priority.",
    )
    response_plan_version = models.ForeignKey(
        "incidents.ResponsePlanVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="major_incidents",
        help_text="The response plan version instantiated at declaration (kept when the plan changes).",
    )

    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change; the API's ETag.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["state", "-id"], name="mi_state_id"),
            models.Index(fields=["declared_at"], name="mi_declared_at"),
            # The cadence reminder sweep: active records whose next update is due.
            models.Index(fields=["next_update_due_at"], condition=Q(state="active"), name="mi_active_next_update"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(state__in=HOLDING_STATES), name="mi_one_per_primary_incident"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_live(self) -> bool:
        return self.state in (S.PROPOSED, S.ACTIVE)

    # --- transitions: django-fsm-2, guarded by conditions and by incidents.major.policy ----------
    @transition(field=state, source=S.PROPOSED, target=S.ACTIVE, permission=policy.transition_permission("declare"))
    def declare(self) -> None:
        now = timezone.now()
        self.declared_at = now
        self.detected_at = self.detected_at or now
        self.impact_started_at = self.impact_started_at or self.detected_at

    @transition(
        field=state,
        source=S.PROPOSED,
        target=S.REJECTED,
        conditions=[has_rejection_reason],
        permission=policy.transition_permission("reject"),
    )
    def reject(self) -> None:
        self.rejected_at = timezone.now()

    @transition(field=state, source=S.ACTIVE, target=S.RESOLVED, permission=policy.transition_permission("resolve"))
    def resolve(self) -> None:
        now = timezone.now()
        self.resolved_at = now
        self.mitigated_at = self.mitigated_at or now
        self.next_update_due_at = None

    @transition(
        field=state, source=S.RESOLVED, target=S.IN_REVIEW, permission=policy.transition_permission("start_review")
    )
    def start_review(self) -> None:
        self.review_started_at = timezone.now()

    @transition(
        field=state,
        source=S.IN_REVIEW,
        target=S.CLOSED,
        conditions=[review_is_complete],
        permission=policy.transition_permission("close"),
    )
    def close(self) -> None:
        self.closed_at = timezone.now()


class Responder(models.Model):
    """A person paged into the response: when they were paged, how often, and when they answered.

    `next_page_at` is the re-page sweep's due column (null once acknowledged or out of pages);
    `unanswered_at` records when the manager was told this responder never answered.
    """

    major_incident = models.ForeignKey(MajorIncident, on_delete=models.CASCADE, related_name="responders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="responder_roles")
    role = models.CharField(max_length=100, blank=True, help_text="Free text, e.g. network, database.")
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paged_at = models.DateTimeField(null=True, blank=True)
    last_paged_at = models.DateTimeField(null=True, blank=True)
    page_count = models.PositiveIntegerField(default=0)
    next_page_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    unanswered_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(
        null=True, blank=True, help_text="When the responder's engagement ended (resolve); for effort cost."
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["major_incident", "user"], name="responder_once_per_major_incident")
        ]
        indexes = [models.Index(fields=["next_page_at"], condition=Q(next_page_at__isnull=False), name="responder_due")]

    def __str__(self) -> str:
        return f"{self.user} on {self.major_incident_id}"


class StakeholderUpdate(AppendOnlyModel):
    """One posted stakeholder update; never edited. Carries its cadence compliance.

    `due_at` is the `next_update_due_at` the record had when this was posted (null for the first
    update after declaration when none was due); `late_seconds` = max(0, posted_at - due_at).
    """

    major_incident = models.ForeignKey(MajorIncident, on_delete=models.CASCADE, related_name="updates")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    status = models.CharField(max_length=16, choices=UpdateStatus.choices)
    body = models.TextField()
    next_update_due_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    late_seconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["posted_at", "id"]
        indexes = [models.Index(fields=["major_incident", "id"], name="mi_update_record_id")]

    def __str__(self) -> str:
        return f"{self.get_audience_display()} update on {self.major_incident_id}"

    @property
    def on_time(self) -> bool:
        return self.late_seconds == 0


class PostIncidentReview(models.Model):
    """The post-incident review (PIR) of one major incident; versioned for ETag/If-Match."""

    major_incident = models.OneToOneField(MajorIncident, on_delete=models.CASCADE, related_name="review")
    summary = models.TextField(blank=True)
    timeline_markdown = models.TextField(blank=True, help_text="Pre-filled from the merged timeline at start_review.")
    root_cause = models.TextField(blank=True)
    contributing_factors = models.TextField(blank=True)
    went_well = models.TextField(blank=True)
    went_badly = models.TextField(blank=True)
    lessons_learned = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    REQUIRED_FIELDS = ("summary", "root_cause", "lessons_learned")

    def __str__(self) -> str:
        return f"Review of {self.major_incident_id}"

    def missing(self) -> list[str]:
        """What keeps the review from being complete (empty when complete), in plain words."""
        out = [f"{name} is empty" for name in self.REQUIRED_FIELDS if not (getattr(self, name) or "").strip()]
        for item in self.action_items.all():
            if item.owner_id is None:
                out.append(f"action item {item.pk} ({item.title}) has no owner")
            if item.due_date is None:
                out.append(f"action item {item.pk} ({item.title}) has no due date")
        return out


class ActionItem(models.Model):
    """A follow-up of the review: who does what by when. Overdue items remind their owner once a day."""

    review = models.ForeignKey(PostIncidentReview, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="action_items"
    )
    due_date = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    reminded_on = models.DateField(null=True, blank=True, help_text="The last day an overdue reminder went out.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["due_date"], condition=Q(done=False), name="action_item_open_due")]

    def __str__(self) -> str:
        return self.title


class MajorIncidentEvent(TimelineEntry):
    """One entry of a major incident's append-only history (merged with its incidents' on read)."""

    record_field = "major_incident"

    major_incident = models.ForeignKey(MajorIncident, on_delete=models.CASCADE, related_name="timeline")
    type = models.CharField(max_length=20, choices=MajorTimelineType.choices)

    class Meta(TimelineEntry.Meta):
        indexes = [models.Index(fields=["major_incident", "id"], name="mi_timeline_record_id")]
