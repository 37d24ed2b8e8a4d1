"""Incident practice models, re-exported."""

# Major incidents live in their own sub-package, under this app's label.
from incidents.major.models import (
    ActionItem,
    MajorIncident,
    MajorIncidentEvent,
    MajorIncidentSettings,
    PostIncidentReview,
    Responder,
    StakeholderUpdate,
)
from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion, Task, TriggerFiring, TriggerRule

from .alerts import AlertRoute, InboundMessage, IncidentAlert
from .incident import Comment, Incident, IncidentSettings, TimelineEvent
from .sla import ClockStage, SlaClock

__all__ = [
    "ActionItem",
    "AlertRoute",
    "ClockStage",
    "Comment",
    "InboundMessage",
    "Incident",
    "IncidentAlert",
    "IncidentSettings",
    "MajorIncident",
    "MajorIncidentEvent",
    "MajorIncidentSettings",
    "PlanTask",
    "PostIncidentReview",
    "Responder",
    "ResponsePlan",
    "ResponsePlanVersion",
    "SlaClock",
    "StakeholderUpdate",
    "Task",
    "TimelineEvent",
    "TriggerFiring",
    "TriggerRule",
]
