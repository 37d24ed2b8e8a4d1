"""Tasks on incidents and major incidents, versioned response plans, and major incident trigger rules.

The models carry the `incidents` app label (`incidents.models` re-exports them). A task's state
changes only through its transitions (protected field); the use cases in this package lock the
row, run the transition, bump `version` (the ETag) and write the record's timeline together.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from incidents.response.choices import (
    OPEN_TASK_STATES,
    TRIGGER_FIELDS,
    TRIGGER_OPERATORS,
    TaskRole,
    TaskSource,
    TaskState,
    TriggerAction,
    TriggerDecision,
    TriggerEvent,
)

T = TaskState


class Task(FSMModelMixin, models.Model):
    """Who does what by when, on one incident, one major incident or one problem (exactly one).

    The problem foreign key is lazy (problem management lives to the right of incidents and
    registers what a task on a problem needs with `incidents.response.records`).

    `next_reminder_at` is the overdue sweep's due column: the due time, then one reminder period
    later after each reminder (so an overdue task reminds once per period); null when closed.
    A `blocking` task that is still open holds its major incident's `resolve`.
    """

    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    major_incident = models.ForeignKey(
        "incidents.MajorIncident", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    problem = models.ForeignKey(
        "problems.Problem", null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    kind = models.CharField(
        max_length=10, blank=True, help_text="What the task is for, e.g. 'rca' or 'general' on a problem."
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    role = models.CharField(
        max_length=20, choices=TaskRole.choices, blank=True, help_text="The response-team role a plan gave it to."
    )
    due_at = models.DateTimeField(null=True, blank=True)
    blocking = models.BooleanField(default=False, help_text="Holds the major incident's resolve while open.")
    state = FSMField(default=T.OPEN, choices=T.choices, protected=True, db_index=True)
    position = models.PositiveIntegerField(default=0, help_text="Order on the record's task list.")
    source = models.CharField(max_length=10, choices=TaskSource.choices, default=TaskSource.MANUAL)
    plan_version = models.ForeignKey(
        "incidents.ResponsePlanVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )

    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)

    next_reminder_at = models.DateTimeField(null=True, blank=True)
    reminder_count = models.PositiveIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Lease of the overdue sweep.")

    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change; the API's ETag.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(incident__isnull=False) & Q(major_incident__isnull=True) & Q(problem__isnull=True))
                | (Q(incident__isnull=True) & Q(major_incident__isnull=False) & Q(problem__isnull=True))
                | (Q(incident__isnull=True) & Q(major_incident__isnull=True) & Q(problem__isnull=False)),
                name="task_on_one_record",
            ),
        ]
        indexes = [
            models.Index(fields=["incident", "position", "id"], name="task_incident"),
            models.Index(fields=["major_incident", "position", "id"], name="task_major_incident"),
            models.Index(fields=["problem", "position", "id"], name="task_problem"),
            models.Index(fields=["assignee", "state"], name="task_assignee_state"),
            models.Index(
                fields=["next_reminder_at"],
                condition=Q(next_reminder_at__isnull=False, state__in=["open", "in_progress"]),
                name="task_reminder_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def record(self):
        """The incident or major incident the task belongs to."""
        if self.incident_id:
            return self.incident
        return self.major_incident if self.major_incident_id else self.problem

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_TASK_STATES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at <= timezone.now()

    @transition(field=state, source=T.OPEN, target=T.IN_PROGRESS)
    def start(self) -> None:
        self.started_at = timezone.now()

    @transition(field=state, source=[T.OPEN, T.IN_PROGRESS], target=T.DONE)
    def complete(self) -> None:
        self.completed_at = timezone.now()
        self.next_reminder_at = None

    @transition(field=state, source=[T.OPEN, T.IN_PROGRESS], target=T.CANCELLED)
    def cancel(self) -> None:
        self.cancelled_at = timezone.now()
        self.next_reminder_at = None


# --- response plans -----------------------------------------------------------------------------
class ResponsePlan(models.Model):
    """A predefined response: matched by service, category and/or priority (ordered, first match
    wins), a checklist of tasks (`PlanTask`) and a communication plan.

    Editing a plan publishes a new `ResponsePlanVersion` (an immutable snapshot); a major incident
    keeps the version it was declared with.
    """

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=100, help_text="Lower first; the first matching plan wins.")
    active = models.BooleanField(default=True)
    services = models.ManyToManyField("itsm.Service", blank=True, related_name="+", help_text="Empty: any service.")
    categories = models.ManyToManyField(
        "itsm.Category", blank=True, related_name="+", help_text="Empty: any category (a parent matches its children)."
    )
    priorities = models.JSONField(default=list, blank=True, help_text="Priorities 1-5; empty: any.")
    # The communication plan.
    audiences = models.JSONField(default=list, blank=True, help_text="Audiences kept informed: internal, external.")
    update_cadence_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: the practice default."
    )
    update_templates = models.JSONField(
        default=list,
        blank=True,
        help_text='Templates to start updates from: [{"name", "audience", "status", "body"}]; the first is the draft.',
    )
    current_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class PlanTask(models.Model):
    """One step of a plan's checklist (the editable draft; versions snapshot it)."""

    plan = models.ForeignKey(ResponsePlan, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    role = models.CharField(max_length=20, choices=TaskRole.choices, blank=True)
    due_offset_minutes = models.IntegerField(
        default=0, validators=[MinValueValidator(0)], help_text="Due this many minutes after declaration."
    )
    blocking = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(due_offset_minutes__gte=0), name="plan_task_offset_not_negative")
        ]

    def __str__(self) -> str:
        return self.title


class ResponsePlanVersion(models.Model):
    """An immutable snapshot of a plan: what a major incident declared under it instantiated.

    `content` = {"name", "tasks": [{"title", "description", "assignment_group", "role",
    "due_offset_minutes", "blocking"}], "audiences", "update_cadence_minutes", "update_templates"}.
    """

    plan = models.ForeignKey(ResponsePlan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [models.UniqueConstraint(fields=["plan", "number"], name="plan_version_unique")]

    def __str__(self) -> str:
        return f"{self.plan} v{self.number}"


# --- trigger rules ------------------------------------------------------------------------------
def validate_conditions(value) -> None:
    """Conditions are a list of {"field", "op", "value"} with known fields and operators."""
    if not isinstance(value, list):
        raise ValidationError("A list of conditions.")
    problems = []
    for index, condition in enumerate(value):
        if not isinstance(condition, dict) or set(condition) != {"field", "op", "value"}:
            problems.append(f"Condition {index + 1}: an object with field, op and value.")
            continue
        if condition["field"] not in TRIGGER_FIELDS:
            problems.append(
                f"Condition {index + 1}: unknown field '{condition['field']}' (known: {', '.join(TRIGGER_FIELDS)})."
            )
        if condition["op"] not in TRIGGER_OPERATORS:
            problems.append(
                f"Condition {index + 1}: unknown operator '{condition['op']}' (known: {', '.join(TRIGGER_OPERATORS)})."
            )
        elif condition["op"] in ("in", "not_in") and not isinstance(condition["value"], list):
            problems.append(f"Condition {index + 1}: '{condition['op']}' takes a list.")
    if problems:
        raise ValidationError(problems)


class TriggerRule(models.Model):
    """Proposes or declares a major incident from incident facts (ordered, first match wins).

    Fires when every condition holds for the incident and, with `count_threshold`, when at least
    that many incidents matching the conditions were opened on its service within
    `window_minutes`. Evaluated after commit on create and on a priority or service change,
    never for an incident that already has a major incident; every firing is a `TriggerFiring`.
    """

    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=False, help_text="Rules are off until an administrator turns them on.")
    position = models.PositiveIntegerField(default=100, help_text="Lower first; the first matching rule wins.")
    action = models.CharField(max_length=10, choices=TriggerAction.choices, default=TriggerAction.PROPOSE)
    conditions = models.JSONField(default=list, blank=True, validators=[validate_conditions])
    count_threshold = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(2)], help_text="N incidents on one service..."
    )
    window_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="...within M minutes."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(count_threshold__isnull=True) & Q(window_minutes__isnull=True))
                | (Q(count_threshold__isnull=False) & Q(window_minutes__isnull=False)),
                name="trigger_rule_count_with_window",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (self.count_threshold is None) != (self.window_minutes is None):
            raise ValidationError({"window_minutes": "A count needs a window, and a window a count."})


class TriggerFiring(models.Model):
    """One firing of a rule for one incident: what it decided and the major incident it made."""

    rule = models.ForeignKey(TriggerRule, on_delete=models.CASCADE, related_name="firings")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="trigger_firings")
    event = models.CharField(max_length=20, choices=TriggerEvent.choices)
    decision = models.CharField(max_length=12, choices=TriggerDecision.choices)
    major_incident = models.ForeignKey(
        "incidents.MajorIncident", null=True, blank=True, on_delete=models.SET_NULL, related_name="trigger_firings"
    )
    detail = models.TextField(blank=True)
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["rule", "incident"], name="trigger_fires_once_per_incident")]

    def __str__(self) -> str:
        return f"{self.rule} on {self.incident_id}: {self.decision}"
