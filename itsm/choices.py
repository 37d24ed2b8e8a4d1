"""Choices shared by the configuration models and every practice."""

from django.db import models


class Criticality(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Impact(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Urgency(models.IntegerChoices):
    HIGH = 1, "1 - High"
    MEDIUM = 2, "2 - Medium"
    LOW = 3, "3 - Low"


class Priority(models.IntegerChoices):
    P1 = 1, "P1 - Critical"
    P2 = 2, "P2 - High"
    P3 = 3, "P3 - Moderate"
    P4 = 4, "P4 - Low"
    P5 = 5, "P5 - Planning"


class SlaKind(models.TextChoices):
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


# The ITIL default matrix: (impact, urgency) -> priority.
DEFAULT_PRIORITY_MATRIX = {
    (1, 1): 1,
    (1, 2): 2,
    (2, 1): 2,
    (1, 3): 3,
    (2, 2): 3,
    (3, 1): 3,
    (2, 3): 4,
    (3, 2): 4,
    (3, 3): 5,
}
