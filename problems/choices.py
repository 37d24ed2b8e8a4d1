"""Choices of problem management."""

from django.db import models


class ProblemState(models.TextChoices):
    NEW = "new", "New"
    INVESTIGATING = "investigating", "Investigating"
    KNOWN_ERROR = "known_error", "Known error"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


# States in which a problem still covers its incidents (an incident belongs to one of these at most).
OPEN_STATES = [ProblemState.NEW, ProblemState.INVESTIGATING, ProblemState.KNOWN_ERROR]
# States after which linking an incident counts as a recurrence.
FIXED_STATES = [ProblemState.RESOLVED, ProblemState.CLOSED]


class ProblemTransition(models.TextChoices):
    INVESTIGATE = "investigate", "Investigate"
    MARK_KNOWN_ERROR = "mark_known_error", "Mark known error"
    RESOLVE = "resolve", "Resolve"
    CLOSE = "close", "Close"
    CANCEL = "cancel", "Cancel"


class ProblemSource(models.TextChoices):
    REACTIVE = "reactive", "Reactive (from an incident or major incident)"
    PROACTIVE = "proactive", "Proactive (trend detection)"
    MANUAL = "manual", "Manual"


class RcaMethod(models.TextChoices):
    FIVE_WHYS = "five_whys", "Five whys"
    FISHBONE = "fishbone", "Fishbone (Ishikawa)"
    TIMELINE = "timeline", "Timeline analysis"
    OTHER = "other", "Other"


# The usual fishbone categories (the 6 Ms of IT); notes may use others too.
FISHBONE_CATEGORIES = ["people", "process", "technology", "environment", "supplier", "measurement"]


class KnownErrorState(models.TextChoices):
    PUBLISHED = "published", "Published"
    RETIRED = "retired", "Retired"


class KnownErrorUseKind(models.TextChoices):
    APPLIED = "applied", "Workaround applied to an incident"
    SELF_SERVICE = "self_service", "Fixed it without filing (self-service)"


class ProblemTimelineType(models.TextChoices):
    CREATED = "created", "Created"
    FIELD_CHANGED = "field_changed", "Field changed"
    ASSIGNED = "assigned", "Assigned"
    TRANSITION = "transition", "Transition"
    COMMENTED = "commented", "Commented"
    LINKED = "linked", "Linked"
    UNLINKED = "unlinked", "Unlinked"
    KNOWN_ERROR = "known_error", "Known error article"
    WORKAROUND_APPLIED = "workaround_applied", "Workaround applied"
    RECURRENCE = "recurrence", "Recurrence"
    NOTIFIED = "notified", "Notified"
    TASK = "task", "Task"
