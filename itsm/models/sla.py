import itertools

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from itsm.choices import SlaKind

from .base import TimeStampedModel
from .calendars import BusinessCalendar
from .config import Category, Service


def default_pause_states() -> list[str]:
    return ["on_hold"]


def default_thresholds() -> list[int]:
    return [50, 75, 90]


def validate_thresholds(value: list) -> None:
    """Thresholds are whole percents in 1..99, strictly increasing."""
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError("Warning thresholds must be a list of whole percents.")
    if any(not 1 <= v <= 99 for v in value):
        raise ValidationError("Each warning threshold must be between 1 and 99 percent.")
    if any(b <= a for a, b in itertools.pairwise(value)):
        raise ValidationError("Warning thresholds must be strictly increasing.")


def validate_priorities(value: list) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give at least one priority (1-5).")
    if any(not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 5 for v in value):
        raise ValidationError("Priorities are whole numbers from 1 to 5.")
    if len(set(value)) != len(value):
        raise ValidationError("A priority is listed twice.")


# Incident states an SLA clock may pause in; terminal states stop clocks instead.
PAUSABLE_STATES = ["new", "in_progress", "on_hold"]
NOTIFY_ACTIONS = ["notify_assignee", "notify_group", "notify_group_manager"]
OTHER_ACTIONS = ["reassign_escalation_group", "raise_priority"]


def validate_pause_states(value: list) -> None:
    if not isinstance(value, list) or any(v not in PAUSABLE_STATES for v in value):
        raise ValidationError(f"Pause states are a list of: {', '.join(PAUSABLE_STATES)}.")


def validate_actions(value: dict) -> None:
    """{"<threshold>"|"warning"|"breach": [action, ...]}; an action is one of NOTIFY_ACTIONS,
    OTHER_ACTIONS or {"notify_users": [user ids]}."""
    if not isinstance(value, dict):
        raise ValidationError(
            'Actions are an object like {"75": ["notify_group"], "breach": ["notify_group_manager"]}.'
        )
    for key, actions in value.items():
        if key not in ("warning", "breach") and not (key.isdigit() and 1 <= int(key) <= 99):
            raise ValidationError(f"'{key}' is not a threshold (1-99), 'warning' or 'breach'.")
        if not isinstance(actions, list):
            raise ValidationError(f"The actions of '{key}' must be a list.")
        for action in actions:
            if isinstance(action, dict):
                users = action.get("notify_users")
                if (
                    set(action) != {"notify_users"}
                    or not isinstance(users, list)
                    or not all(isinstance(u, int) and not isinstance(u, bool) for u in users)
                ):
                    raise ValidationError('A named-user action is {"notify_users": [user ids]}.')
            elif action not in NOTIFY_ACTIONS + OTHER_ACTIONS:
                raise ValidationError(
                    f"Unknown action '{action}'. Known: {', '.join(NOTIFY_ACTIONS + OTHER_ACTIONS)}, "
                    '{"notify_users": [ids]}.'
                )


class SlaPolicy(TimeStampedModel):
    """A response or resolution target for incidents matching a priority (and optionally service, category).

    Matching rule: among active policies of one kind that match an incident, the most specific wins:
    service and category both matching, then service only, then category only, then priority only.
    """

    name = models.CharField(max_length=150, unique=True)
    kind = models.CharField(max_length=12, choices=SlaKind.choices)
    priorities = models.JSONField(validators=[validate_priorities], help_text="Priorities 1-5 this applies to.")
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.PROTECT, related_name="sla_policies")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="sla_policies")
    target_minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="sla_policies")
    pause_states = models.JSONField(default=default_pause_states, blank=True, validators=[validate_pause_states])
    warning_thresholds = models.JSONField(default=default_thresholds, blank=True, validators=[validate_thresholds])
    actions = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_actions],
        help_text='What to do at each threshold and at breach, e.g. {"75": ["notify_group"], '
        '"breach": ["notify_group_manager", "reassign_escalation_group"]}. Without an entry: warnings notify '
        "the assignee, a breach the assignee and the group manager.",
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        constraints = [
            models.CheckConstraint(condition=models.Q(target_minutes__gt=0), name="sla_policy_positive_target"),
        ]

    def __str__(self) -> str:
        return self.name
