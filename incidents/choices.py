"""Choices of the incident practice."""

from django.db import models


class IncidentState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    ON_HOLD = "on_hold", "On hold"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = [IncidentState.NEW, IncidentState.IN_PROGRESS, IncidentState.ON_HOLD]
TERMINAL_STATES = [IncidentState.CLOSED, IncidentState.CANCELLED]


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    MONITORING = "monitoring", "Monitoring"
    API = "api", "API"


class HoldReason(models.TextChoices):
    AWAITING_CALLER = "awaiting_caller", "Awaiting caller"
    AWAITING_VENDOR = "awaiting_vendor", "Awaiting vendor"
    AWAITING_CHANGE = "awaiting_change", "Awaiting change"
    OTHER = "other", "Other"


class ResolutionCode(models.TextChoices):
    FIXED = "fixed", "Fixed"
    WORKAROUND = "workaround", "Workaround applied"
    DUPLICATE = "duplicate", "Duplicate"
    NO_FAULT_FOUND = "no_fault_found", "No fault found"
    USER_ERROR = "user_error", "User error"
    AUTO_RESOLVED = "auto_resolved", "Auto-resolved by monitoring"
    RESOLVED_BY_PROBLEM = "resolved_by_problem", "Resolved by problem"
    OTHER = "other", "Other"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public (visible to the caller)"
    INTERNAL = "internal", "Internal work note"


class TimelineType(models.TextChoices):
    CREATED = "created", "Created"
    FIELD_CHANGED = "field_changed", "Field changed"
    ASSIGNED = "assigned", "Assigned"
    TRANSITION = "transition", "Transition"
    COMMENTED = "commented", "Commented"
    WATCHER_ADDED = "watcher_added", "Watcher added"
    WATCHER_REMOVED = "watcher_removed", "Watcher removed"
    LINKED = "linked", "Linked"
    UNLINKED = "unlinked", "Unlinked"
    SLA = "sla", "SLA"
    ALERT = "alert", "Alert"
    NOTIFIED = "notified", "Notified"
    WORKAROUND_APPLIED = "workaround_applied", "Workaround applied"
    TASK = "task", "Task"


class Transition(models.TextChoices):
    START = "start", "Start work"
    HOLD = "hold", "Put on hold"
    RESUME = "resume", "Resume"
    RESOLVE = "resolve", "Resolve"
    REOPEN = "reopen", "Reopen"
    CLOSE = "close", "Close"
    CANCEL = "cancel", "Cancel"


class Queue(models.TextChoices):
    """Whose work: the console's queue filter and the API's `queue` parameter."""

    MY_WORK = "my_work", "My work"
    MINE = "mine", "Assigned to me"
    MY_GROUPS = "my_groups", "My groups"
    UNASSIGNED = "unassigned", "Unassigned"
