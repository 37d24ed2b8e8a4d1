"""Choices of major incident management."""

from django.db import models


class MajorIncidentState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved"
    IN_REVIEW = "in_review", "In review"
    CLOSED = "closed", "Closed"
    REJECTED = "rejected", "Rejected"


# States in which the major incident is still being run (links, updates, pages are accepted).
LIVE_STATES = [MajorIncidentState.PROPOSED, MajorIncidentState.ACTIVE]
# A primary incident can have one major incident that is not rejected.
HOLDING_STATES = [s for s in MajorIncidentState.values if s != MajorIncidentState.REJECTED]


class MajorTransition(models.TextChoices):
    DECLARE = "declare", "Declare"
    REJECT = "reject", "Reject"
    RESOLVE = "resolve", "Resolve"
    START_REVIEW = "start_review", "Start review"
    CLOSE = "close", "Close"


class Audience(models.TextChoices):
    INTERNAL = "internal", "Internal (staff and stakeholders)"
    EXTERNAL = "external", "External (subscribers and status page)"


class UpdateStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"


class StatusLevel(models.TextChoices):
    """A service's level on the public status page (worst first after operational)."""

    OPERATIONAL = "operational", "Operational"
    DEGRADED = "degraded", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    MAINTENANCE = "maintenance", "Under maintenance"


class MajorTimelineType(models.TextChoices):
    CREATED = "created", "Created"
    TRANSITION = "transition", "Transition"
    FIELD_CHANGED = "field_changed", "Field changed"
    ROLE_CHANGED = "role_changed", "Role changed"
    PAGED = "paged", "Paged"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    UNANSWERED = "unanswered", "Page unanswered"
    UPDATE_POSTED = "update_posted", "Update posted"
    UPDATE_OVERDUE = "update_overdue", "Update overdue"
    LINKED = "linked", "Linked"
    UNLINKED = "unlinked", "Unlinked"
    REVIEW_CHANGED = "review_changed", "Review changed"
    ACTION_ITEM = "action_item", "Action item"
    NOTIFIED = "notified", "Notified"
    TASK = "task", "Task"


class Role(models.TextChoices):
    """The named roles of the response team (responders carry a free-text role besides)."""

    MANAGER = "manager", "Major incident manager"
    COMMS_LEAD = "comms_lead", "Communications lead"
    TECH_LEAD = "tech_lead", "Technical lead"
