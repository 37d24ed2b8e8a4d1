"""Incident practice models, re-exported."""

from .incident import Comment, Incident, IncidentSettings, TimelineEvent
from .sla import ClockStage, SlaClock

__all__ = ["ClockStage", "Comment", "Incident", "IncidentSettings", "SlaClock", "TimelineEvent"]
