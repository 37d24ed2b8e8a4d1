"""Choices of response plans, tasks and major incident trigger rules."""

from django.db import models


class TaskState(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


OPEN_TASK_STATES = (TaskState.OPEN, TaskState.IN_PROGRESS)


class TaskTransition(models.TextChoices):
    START = "start", "Start"
    COMPLETE = "complete", "Complete"
    CANCEL = "cancel", "Cancel"


class TaskSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    PLAN = "plan", "From a response plan"


class TaskRole(models.TextChoices):
    """Who owns a plan task when it names a role of the response team instead of a group."""

    MANAGER = "manager", "Major incident manager"
    COMMS_LEAD = "comms_lead", "Communications lead"
    TECH_LEAD = "tech_lead", "Technical lead"


class TriggerAction(models.TextChoices):
    PROPOSE = "propose", "Propose a major incident"
    DECLARE = "declare", "Declare a major incident"


class TriggerEvent(models.TextChoices):
    """What made a rule look at an incident."""

    CREATED = "created", "Incident created"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    SERVICE_CHANGED = "service_changed", "Service changed"


class TriggerDecision(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    DECLARED = "declared", "Declared"
    SUPPRESSED = "suppressed", "Suppressed (a major incident already covers it)"
    FAILED = "failed", "Failed"


# Trigger rule conditions: {"field": <one of TRIGGER_FIELDS>, "op": <one of TRIGGER_OPERATORS>, "value": ...}.
TRIGGER_FIELDS = {
    "priority": "The incident's priority (1-5).",
    "impact": "The incident's impact (1-3).",
    "urgency": "The incident's urgency (1-3).",
    "channel": "The channel the incident came in by.",
    "service": "The incident's service (slug).",
    "service.criticality": "The service's business criticality (low, medium, high, critical).",
    "service.customer_facing": "Whether the service is marked customer-facing (true/false).",
    "category": "The incident's category (id).",
    "alert.severity": "The severity of the alert that opened the incident (critical, error, warning, info).",
}
TRIGGER_OPERATORS = ("eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte")
