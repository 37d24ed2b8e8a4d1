"""The problem record, its timeline and the practice's settings.

State changes only through the transitions of `Problem` (protected field); the use cases in
`problems.lifecycle` lock the row, run the transition, bump `version` (the ETag) and write the
timeline together. Incidents and major incidents point at their problem (`Incident.problem`,
`MajorIncident.problem`, lazy foreign keys from the incidents app), so an incident belongs to
one problem at most by construction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from itsm.models import TimelineEntry
from problems.choices import OPEN_STATES, ProblemSource, ProblemState, ProblemTimelineType, RcaMethod

S = ProblemState


class ProblemSettings(models.Model):
    """Practice settings an administrator changes in the console (a single row)."""

    cluster_min_incidents = models.PositiveIntegerField(
        default=5, help_text="Trend detection: this many incidents of one service and category..."
    )
    cluster_window_days = models.PositiveIntegerField(default=7, help_text="...within this many days open a problem.")
    cluster_title_similarity = models.BooleanField(
        default=False,
        help_text="Only count incidents whose titles share significant words (off: service and category alone).",
    )
    cluster_similarity_threshold = models.FloatField(
        default=0.5, help_text="Share of significant title words two incidents must have in common (0-1)."
    )
    proactive_cooldown_days = models.PositiveIntegerField(
        default=30,
        help_text="After a proactive problem is cancelled as not a problem, its cluster opens none for this many days.",
    )
    suggestion_limit = models.PositiveIntegerField(default=5, help_text="Known errors suggested on an incident.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "problem settings"
        verbose_name_plural = "problem settings"

    def __str__(self) -> str:
        return "Problem settings"

    @classmethod
    def current(cls) -> ProblemSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


# --- transition conditions (the use cases check them first, naming the missing field) -------------
def _filled(value) -> bool:
    return bool((value or "").strip()) if isinstance(value, str) or value is None else bool(value)


def has_owner(problem: Problem) -> bool:
    return problem.owner_id is not None


def has_root_cause_or_workaround(problem: Problem) -> bool:
    return _filled(problem.root_cause) or _filled(problem.workaround)


def has_fix(problem: Problem) -> bool:
    return _filled(problem.fix)


def has_lessons_learned(problem: Problem) -> bool:
    return _filled(problem.lessons_learned)


def has_cancel_reason(problem: Problem) -> bool:
    return _filled(problem.cancel_reason)


class Problem(FSMModelMixin, models.Model):
    """The unknown underlying cause of one or more incidents (ITIL problem), investigated until
    its root cause is known (a known error, published to the KEDB) and removed by a permanent fix.

    `cluster_key` is set on proactive problems ("<service id>:<category id>"); a partial unique
    constraint lets one open proactive problem exist per cluster, whatever sweeps race.
    `source_major_incident` is set on the problem a closed major incident opened (unique: the
    hand-off happens once even when its event is delivered twice).
    """

    number = models.CharField(max_length=16, unique=True, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    state = FSMField(default=S.NEW, choices=S.choices, protected=True, db_index=True)

    service = models.ForeignKey(
        "itsm.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="problems"
    )
    category = models.ForeignKey(
        "itsm.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="problems"
    )
    impact = models.PositiveSmallIntegerField(choices=[(1, "High"), (2, "Medium"), (3, "Low")], default=2)
    urgency = models.PositiveSmallIntegerField(choices=[(1, "High"), (2, "Medium"), (3, "Low")], default=2)
    priority = models.PositiveSmallIntegerField(
        default=3, editable=False, help_text="From impact and urgency (the priority matrix)."
    )
    assignment_group = models.ForeignKey(
        "itsm.AssignmentGroup", null=True, blank=True, on_delete=models.PROTECT, related_name="problems"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_problems",
        help_text="The problem manager who owns the investigation.",
    )
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_problems")
    source = models.CharField(max_length=10, choices=ProblemSource.choices, default=ProblemSource.MANUAL)

    # Root cause analysis.
    rca_method = models.CharField(max_length=10, choices=RcaMethod.choices, blank=True)
    rca_notes = models.JSONField(
        default=dict,
        blank=True,
        help_text='five_whys: {"whys": [{"why", "answer"}, ...]}; fishbone: {"causes": {category: [cause, ...]}}; '
        'timeline / other: {"text": "..."}.',
    )
    root_cause = models.TextField(blank=True)
    contributing_factors = models.JSONField(default=list, blank=True, help_text="A list of short statements.")
    workaround = models.TextField(blank=True)
    fix = models.TextField(blank=True, help_text="The permanent fix.")
    fix_reference = models.CharField(max_length=255, blank=True, help_text="The change or commit that carries the fix.")
    lessons_learned = models.TextField(blank=True)

    cancel_reason = models.TextField(blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates")
    cluster_key = models.CharField(max_length=64, blank=True, help_text="Proactive problems: the cluster they cover.")
    source_major_incident = models.ForeignKey(
        "incidents.MajorIncident",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The closed major incident this problem was opened from.",
    )
    recurrence_count = models.PositiveIntegerField(
        default=0, help_text="Incidents linked after the problem was resolved."
    )

    opened_at = models.DateTimeField(default=timezone.now)
    investigating_at = models.DateTimeField(null=True, blank=True)
    known_error_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1, help_text="Bumped on every change; the API's ETag.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster_key"],
                condition=Q(state__in=OPEN_STATES) & ~Q(cluster_key=""),
                name="problem_one_open_per_cluster",
            ),
            models.UniqueConstraint(
                fields=["source_major_incident"],
                condition=Q(source_major_incident__isnull=False),
                name="problem_one_per_major_incident",
            ),
            models.CheckConstraint(condition=~Q(duplicate_of=models.F("id")), name="problem_not_duplicate_of_itself"),
        ]
        indexes = [
            models.Index(fields=["state", "service"], name="problem_state_service"),
            models.Index(fields=["cluster_key", "cancelled_at"], name="problem_cluster_cancelled"),
        ]
        permissions = [("transition_problem", "Can run problem transitions")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- transitions (the use cases set the fields a transition needs before running it) ----------
    @transition(field=state, source=S.NEW, target=S.INVESTIGATING, conditions=[has_owner])
    def investigate(self) -> None:
        self.investigating_at = timezone.now()

    @transition(field=state, source=S.INVESTIGATING, target=S.KNOWN_ERROR, conditions=[has_root_cause_or_workaround])
    def mark_known_error(self) -> None:
        self.known_error_at = timezone.now()

    @transition(field=state, source=[S.INVESTIGATING, S.KNOWN_ERROR], target=S.RESOLVED, conditions=[has_fix])
    def resolve(self) -> None:
        self.resolved_at = timezone.now()

    @transition(field=state, source=S.RESOLVED, target=S.CLOSED, conditions=[has_lessons_learned])
    def close(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=OPEN_STATES, target=S.CANCELLED, conditions=[has_cancel_reason])
    def cancel(self) -> None:
        self.cancelled_at = timezone.now()


class ProblemEvent(TimelineEntry):
    """One entry of a problem's append-only timeline (API.md's timeline event shape)."""

    record_field = "problem"

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="timeline")
    type = models.CharField(max_length=20, choices=ProblemTimelineType.choices)

    class Meta(TimelineEntry.Meta):
        indexes = [models.Index(fields=["problem", "id"], name="problem_event_problem")]
