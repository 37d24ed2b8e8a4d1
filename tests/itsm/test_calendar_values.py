"""Business-time values of calendars are cached per process by (id, updated_at); every change moves the key."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from itsm.models import BusinessCalendar, Holiday, WorkingPeriod
from itsm.models.calendars import forget_values

pytestmark = pytest.mark.django_db


def fresh(calendar: BusinessCalendar) -> BusinessCalendar:
    return BusinessCalendar.objects.get(pk=calendar.pk)


def test_a_known_version_reads_no_periods_or_holidays():
    calendar = BusinessCalendar.objects.get(name="24x7")
    forget_values()
    first = fresh(calendar).to_businesstime()
    with CaptureQueriesContext(connection) as ctx:
        again = fresh(calendar).to_businesstime()
    assert again is first
    assert not [q for q in ctx.captured_queries if "workingperiod" in q["sql"] or "holiday" in q["sql"]]


@freeze_time("2026-06-01 08:00:00")  # the clock does not move: the key must still change
@pytest.mark.parametrize("change", ["holiday", "period", "delete_period", "bulk"])
def test_every_change_of_periods_or_holidays_gives_a_new_value(change):
    calendar = BusinessCalendar.objects.create(name="Berlin", timezone="Europe/Berlin")
    WorkingPeriod.objects.create(calendar=calendar, weekday=0, start_minute=540, end_minute=1080)
    before = fresh(calendar).to_businesstime()
    if change == "holiday":
        Holiday.objects.create(calendar=calendar, date="2026-06-01")
    elif change == "period":
        WorkingPeriod.objects.create(calendar=calendar, weekday=1, start_minute=540, end_minute=1080)
    elif change == "delete_period":
        calendar.working_periods.all().delete()
    else:
        Holiday.objects.bulk_create([Holiday(calendar=calendar, date="2026-06-02")])
        BusinessCalendar.touch(calendar.pk)  # what bulk writers do
    after = fresh(calendar).to_businesstime()
    assert after != before
    assert fresh(calendar).updated_at > calendar.updated_at
