"""Incident practice models, re-exported."""

from .alerts import AlertRoute, InboundMessage, IncidentAlert
from .incident import Comment, Incident, IncidentSettings, TimelineEvent
from .sla import ClockStage, SlaClock

__all__ = [
    "AlertRoute",
    "ClockStage",
    "Comment",
    "InboundMessage",
    "Incident",
    "IncidentAlert",
    "IncidentSettings",
    "SlaClock",
    "TimelineEvent",
]
