import itertools
import zoneinfo
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Greatest, Now
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from simple_history.models import HistoricalRecords

from itsm import businesstime
from itsm.choices import Weekday

from .base import TimeStampedModel

MINUTES_PER_DAY = 24 * 60

# Business-time values of calendars, per process, keyed by (calendar id, updated_at). The values are
# immutable (`businesstime.Calendar` is frozen), so threads share them safely; a change to a calendar
# or to its working periods or holidays moves `updated_at` (`touch`), so a new key is read. Every SLA
# clock rendered or fired needs its calendar: this saves reading periods and holidays each time.
_VALUES: dict[tuple[int, object], businesstime.Calendar] = {}
_MAX_VALUES = 1000


def forget_values() -> None:
    """Drop every cached calendar value (tests)."""
    _VALUES.clear()


def validate_timezone(value: str) -> None:
    """Reject anything that is not an IANA timezone name."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValidationError(f"'{value}' is not an IANA timezone (e.g. Europe/Berlin).") from exc


def format_minute(minute: int) -> str:
    """600 -> '10:00'; 1440 -> '24:00' (the end of a day)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_minute(text: str) -> int:
    """'HH:MM' -> minutes after midnight; '24:00' is allowed as the end of a day."""
    try:
        hours, minutes = text.split(":")
        if len(hours) != 2 or len(minutes) != 2:
            raise ValueError
        h, m = int(hours), int(minutes)
    except (ValueError, AttributeError) as exc:
        raise ValidationError(f"'{text}' is not a time of day in HH:MM form.") from exc
    if not (0 <= m < 60) or not (0 <= h <= 24) or (h == 24 and m != 0):
        raise ValidationError(f"'{text}' is not a time of day between 00:00 and 24:00.")
    return h * 60 + m


def validate_periods(periods: list[tuple[int, int, int]]) -> list[str]:
    """Check (weekday, start_minute, end_minute) triples; return one message per problem."""
    problems = []
    by_day: dict[int, list[tuple[int, int]]] = {}
    for weekday, start, end in periods:
        if not 0 <= weekday <= 6:
            problems.append(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday).")
            continue
        if not (0 <= start < end <= MINUTES_PER_DAY):
            span = f"{format_minute(start)}-{format_minute(end)}"
            problems.append(f"{Weekday(weekday).label} {span}: the end must be after the start.")
            continue
        by_day.setdefault(weekday, []).append((start, end))
    for weekday, ranges in sorted(by_day.items()):
        ranges.sort()
        for (s1, e1), (s2, e2) in itertools.pairwise(ranges):
            if s2 < e1:
                problems.append(
                    f"{Weekday(weekday).label} {format_minute(s1)}-{format_minute(e1)} overlaps "
                    f"{format_minute(s2)}-{format_minute(e2)}."
                )
    return problems


class BusinessCalendar(TimeStampedModel):
    """Working hours per weekday (several ranges a day) and holidays, in one IANA timezone."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def to_businesstime(self) -> businesstime.Calendar:
        """This calendar as a pure ``businesstime.Calendar``, from the per-process values when current.

        A saved calendar's value is kept per (id, `updated_at`): periods and holidays are read only
        the first time a version is seen in this process.
        """
        key = (self.pk, self.updated_at)
        value = _VALUES.get(key) if self.pk is not None else None
        if value is None:
            value = businesstime.Calendar(
                timezone=self.timezone,
                periods=tuple((p.weekday, p.start_minute, p.end_minute) for p in self.working_periods.all()),
                holidays=frozenset(holiday.date for holiday in self.holidays.all()),
            )
            if self.pk is not None:
                if len(_VALUES) >= _MAX_VALUES:
                    _VALUES.clear()
                _VALUES[key] = value
        return value

    @classmethod
    def touch(cls, calendar_id: int) -> None:
        """Its working periods or holidays changed: move `updated_at` forward (strictly, even in the same
        microsecond), so every process reads its new value."""
        bumped = models.ExpressionWrapper(
            models.F("updated_at") + timedelta(microseconds=1), output_field=models.DateTimeField()
        )
        cls.objects.filter(pk=calendar_id).update(updated_at=Greatest(Now(), bumped))


class WorkingPeriod(models.Model):
    """One working range of a weekday, as minutes after local midnight (end may be 1440 = 24:00)."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="working_periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_minute = models.PositiveSmallIntegerField(validators=[MaxValueValidator(MINUTES_PER_DAY - 1)])
    end_minute = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MINUTES_PER_DAY)])

    class Meta:
        ordering = ["weekday", "start_minute"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_minute__gt=models.F("start_minute")),
                name="working_period_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {format_minute(self.start_minute)}-{format_minute(self.end_minute)}"


class Holiday(models.Model):
    """A whole non-working day of a calendar, in the calendar's timezone."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


@receiver([post_save, post_delete], sender=WorkingPeriod)
@receiver([post_save, post_delete], sender=Holiday)
def _calendar_content_changed(sender, instance, **kwargs) -> None:
    # Bulk writes send no signal: their callers call BusinessCalendar.touch() themselves.
    BusinessCalendar.touch(instance.calendar_id)
