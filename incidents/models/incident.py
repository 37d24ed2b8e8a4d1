from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from incidents import policy
from incidents.choices import (
    OPEN_STATES,
    Channel,
    HoldReason,
    IncidentState,
    ResolutionCode,
    TimelineType,
    Visibility,
)
from incidents.querysets import IncidentQuerySet
from itsm.choices import Impact, Priority, Urgency
from itsm.models import AppendOnlyModel, TimelineEntry

S = IncidentState


class IncidentSettings(models.Model):
    """Practice settings an administrator changes in the console (a single row)."""

    auto_close_after_hours = models.PositiveIntegerField(
        default=72, help_text="Resolved incidents close automatically after this many hours (0 = never)."
    )
    reopen_window_days = models.PositiveIntegerField(
        default=7, help_text="A resolved incident may be reopened for this many days."
    )
    hold_reminder_after_hours = models.PositiveIntegerField(
        default=72, help_text="Remind the assignee about incidents on hold for longer than this (0 = never)."
    )
    task_reminder_minutes = models.PositiveIntegerField(
        default=60, help_text="An overdue task reminds its assignee (or group) once per this many minutes."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "incident settings"
        verbose_name_plural = "incident settings"

    def __str__(self) -> str:
        return "Incident settings"

    @classmethod
    def current(cls) -> "IncidentSettings":
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# --- transition conditions (django-fsm evaluates them before a transition may run) ---------------
def has_assignment_group(incident: "Incident") -> bool:
    return incident.assignment_group_id is not None


def has_hold_reason(incident: "Incident") -> bool:
    return bool(incident.hold_reason)


def has_resolution(incident: "Incident") -> bool:
    return bool(incident.resolution_code) and bool((incident.resolution_notes or "").strip())


def within_reopen_window(incident: "Incident") -> bool:
    if incident.resolved_at is None:
        return False
    window = timedelta(days=IncidentSettings.current().reopen_window_days)
    return timezone.now() <= incident.resolved_at + window


class Incident(FSMModelMixin, models.Model):
    """An unplanned interruption or reduction in quality of a service (ITIL incident).

    State changes only through the transitions below (the field is protected); every use case
    goes through `incidents.services`, which locks the row, bumps `version` (the ETag) and writes
    the timeline in the same transaction.
    """

    number = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    state = FSMField(default=S.NEW, choices=S.choices, protected=True, db_index=True)

    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.MEDIUM)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.MEDIUM)
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, editable=False, help_text="Derived from impact x urgency through the matrix."
    )
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.PORTAL)

    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    caller_name = models.CharField(max_length=150, blank=True)
    caller_email = models.EmailField(blank=True)

    service = models.ForeignKey(
        "itsm.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    category = models.ForeignKey(
        "itsm.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_incidents"
    )
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_incidents")
    tags = models.JSONField(default=list, blank=True)
    major_incident = models.ForeignKey(
        "incidents.MajorIncident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="linked_incidents",
        help_text="The major incident this incident is the primary of or is linked to.",
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The incident this one duplicates or belongs to.",
    )
    problem = models.ForeignKey(
        "problems.Problem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="incidents",
        help_text="The problem investigating this incident's cause (set by problem management).",
    )

    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    on_hold_since = models.DateTimeField(null=True, blank=True)
    hold_reminded_at = models.DateTimeField(null=True, blank=True)
    resolution_code = models.CharField(max_length=24, choices=ResolutionCode.choices, blank=True)
    resolution_notes = models.TextField(blank=True)
    # This product has no change management: the change is named by its number or URL elsewhere.
    caused_by_change = models.CharField(
        max_length=255, blank=True, help_text="The change that caused this incident: its number or URL."
    )
    caused_by_change_summary = models.TextField(blank=True, help_text="What that change did, in a few words.")

    # Alert ingestion (identification from monitoring)
    dedup_key = models.CharField(max_length=255, blank=True)
    alert_count = models.PositiveIntegerField(default=0)
    alert_source = models.CharField(max_length=255, blank=True)
    alert_severity = models.CharField(max_length=10, blank=True, help_text="Severity of the alert that opened it.")
    alert_first_seen_at = models.DateTimeField(null=True, blank=True)
    alert_last_seen_at = models.DateTimeField(null=True, blank=True)

    opened_at = models.DateTimeField(default=timezone.now)
    responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    reassignment_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change; the API's ETag.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The lists agents and integrations run most: by state, by queue, by owner, newest first.
            models.Index(fields=["state", "-id"], name="incident_state_id"),
            models.Index(fields=["assignment_group", "state", "-id"], name="incident_group_state"),
            models.Index(fields=["assignee", "state", "-id"], name="incident_assignee_state"),
            models.Index(fields=["service", "state", "-id"], name="incident_service_state"),
            models.Index(fields=["priority", "state", "-id"], name="incident_priority_state"),
            # Date-bounded lists ordered by opened_at (the API adds the id as tie-breaker): one index
            # walk, no sort. Replaces a plain (opened_at) index, which it also serves.
            models.Index(fields=["opened_at", "id"], name="incident_opened_at_id"),
            models.Index(fields=["resolved_at"], condition=models.Q(state="resolved"), name="incident_resolved"),
            # Reports (reporting/incidents/): MTTA's incidents responded in a range, MTTR's and volume's
            # resolved in a range (closed ones too, which `incident_resolved` leaves out), and the moment an
            # incident stopped being open (volume's and backlog's finished per period, the backlog at a
            # past moment: `reporting.incidents.volume.FINISHED_AT`, the same expression).
            models.Index(
                fields=["responded_at"], condition=models.Q(responded_at__isnull=False), name="incident_responded_at"
            ),
            models.Index(
                fields=["resolved_at"], condition=models.Q(resolved_at__isnull=False), name="incident_resolved_at"
            ),
            models.Index(Coalesce("resolved_at", "closed_at"), name="incident_finished_at"),
            # The dashboard's backlog ageing now (`reporting.incidents.backlog.ageing_at`): the open
            # incidents' opening moments, counted from the index alone.
            models.Index(
                fields=["opened_at"],
                condition=models.Q(state__in=["new", "in_progress", "on_hold"]),
                name="incident_open_opened_at",
            ),
            # "My work" / "my groups, unassigned": the open, unassigned queue of a group.
            models.Index(
                fields=["assignment_group", "-id"],
                condition=models.Q(assignee__isnull=True, state__in=["new", "in_progress", "on_hold"]),
                name="incident_group_unassigned",
            ),
        ]
        constraints = [
            # One open incident per alert dedup key, enforced by the database (no check-then-insert race).
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=models.Q(state__in=["new", "in_progress", "on_hold"]) & ~models.Q(dedup_key=""),
                name="incident_open_dedup_key_unique",
            ),
            models.CheckConstraint(condition=models.Q(impact__gte=1, impact__lte=3), name="incident_impact_1_3"),
            models.CheckConstraint(condition=models.Q(urgency__gte=1, urgency__lte=3), name="incident_urgency_1_3"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- transitions: django-fsm-2, guarded by conditions and by incidents.policy ----------------
    @transition(
        field=state,
        source=S.NEW,
        target=S.IN_PROGRESS,
        conditions=[has_assignment_group],
        permission=policy.transition_permission("start"),
    )
    def start(self) -> None:
        self.responded_at = self.responded_at or timezone.now()

    @transition(
        field=state,
        source=S.IN_PROGRESS,
        target=S.ON_HOLD,
        conditions=[has_hold_reason],
        permission=policy.transition_permission("hold"),
    )
    def hold(self) -> None:
        self.on_hold_since = timezone.now()
        self.hold_reminded_at = None

    @transition(field=state, source=S.ON_HOLD, target=S.IN_PROGRESS, permission=policy.transition_permission("resume"))
    def resume(self) -> None:
        self._clear_hold()

    def _clear_hold(self) -> None:
        self.hold_reason = ""
        self.on_hold_since = None
        self.hold_reminded_at = None

    @transition(
        field=state,
        source=[S.NEW, S.IN_PROGRESS, S.ON_HOLD],
        target=S.RESOLVED,
        conditions=[has_resolution],
        permission=policy.transition_permission("resolve"),
    )
    def resolve(self) -> None:
        self._clear_hold()
        self.resolved_at = timezone.now()

    @transition(
        field=state,
        source=S.RESOLVED,
        target=S.IN_PROGRESS,
        conditions=[within_reopen_window],
        permission=policy.transition_permission("reopen"),
    )
    def reopen(self) -> None:
        self.reopen_count += 1
        self.resolved_at = None
        self.resolution_code = ""
        self.resolution_notes = ""

    @transition(field=state, source=S.RESOLVED, target=S.CLOSED, permission=policy.transition_permission("close"))
    def close(self) -> None:
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=[S.NEW, S.IN_PROGRESS, S.ON_HOLD],
        target=S.CANCELLED,
        permission=policy.transition_permission("cancel"),
    )
    def cancel(self) -> None:
        self._clear_hold()
        self.closed_at = timezone.now()


class Comment(AppendOnlyModel):
    """A public comment (the caller sees it) or an internal work note. Never edited."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    author_email = models.EmailField(blank=True, help_text="For comments from email replies without a user.")
    body = models.TextField()
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "id"], name="comment_incident_id")]

    def __str__(self) -> str:
        return f"{self.get_visibility_display()} comment on {self.incident_id}"


class TimelineEvent(TimelineEntry):
    """One entry of an incident's append-only history (types and data as API.md's timeline event)."""

    record_field = "incident"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    type = models.CharField(max_length=20, choices=TimelineType.choices)

    class Meta(TimelineEntry.Meta):
        indexes = [models.Index(fields=["incident", "id"], name="timeline_incident_id")]
