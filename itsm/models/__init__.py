"""Shared configuration models, re-exported so that `from itsm.models import Service` works."""

from .base import TimeStampedModel
from .calendars import BusinessCalendar, Holiday, WorkingPeriod
from .config import AssignmentGroup, Category, PriorityMatrixEntry, Service
from .events import DomainEvent
from .idempotency import IdempotencyRecord, NumberCounter
from .sla import SlaPolicy
from .timeline import AppendOnlyModel, TimelineEntry

__all__ = [
    "AppendOnlyModel",
    "AssignmentGroup",
    "BusinessCalendar",
    "Category",
    "DomainEvent",
    "Holiday",
    "IdempotencyRecord",
    "NumberCounter",
    "PriorityMatrixEntry",
    "Service",
    "SlaPolicy",
    "TimeStampedModel",
    "TimelineEntry",
    "WorkingPeriod",
]
