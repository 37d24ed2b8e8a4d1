"""Availability arithmetic: unions of overlapping windows, maintenance excluded, ongoing outages."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from status.models import MaintenanceWindow
from status.page import availability as av
from status.page import build
from tests.factories import ServiceFactory
from tests.incidents.major.factories import MajorIncidentFactory

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def at(hours: float) -> datetime:
    """`hours` after midnight of NOW's day (negative: days before)."""
    return NOW.replace(hour=0) + timedelta(hours=hours)


def test_union_merges_overlapping_and_touching_windows_and_drops_empty_ones():
    windows = [(at(1), at(3)), (at(2), at(4)), (at(4), at(5)), (at(7), at(8)), (at(9), at(9))]
    assert av.union(windows) == [(at(1), at(5)), (at(7), at(8))]


def test_subtract_removes_maintenance_from_the_middle_and_the_edges():
    assert av.subtract([(at(1), at(5))], [(at(2), at(3))]) == [(at(1), at(2)), (at(3), at(5))]
    assert av.subtract([(at(1), at(5))], [(at(0), at(2)), (at(4), at(6))]) == [(at(2), at(4))]
    assert av.subtract([(at(1), at(2))], [(at(0), at(3))]) == []


def test_overlapping_outages_count_once_and_maintenance_is_excluded_from_both_sides():
    impacts = [(at(1), at(3)), (at(2), at(4))]  # 3 h of downtime, not 4
    result = av.availability(impacts, [], NOW)
    period = timedelta(days=89) + timedelta(hours=12)
    assert result.downtime == 3 * H
    assert result.percent == int(100 * (1 - (3 * H) / period) * 100) / 100
    assert result.percent_text == f"{result.percent:.2f}%"

    with_maintenance = av.availability(impacts, [(at(3), at(5))], NOW)
    assert with_maintenance.downtime == 2 * H
    assert with_maintenance.percent == int(100 * (1 - (2 * H) / (period - 2 * H)) * 100) / 100


def test_cells_cover_ninety_days_oldest_first_with_text():
    result = av.availability([(at(-25), at(-22))], [(at(1), at(2))], NOW)
    assert len(result.days) == 90
    assert result.days[-1].day == NOW.date() and result.days[0].day == (NOW - timedelta(days=89)).date()
    yesterday, today = result.days[-2], result.days[-1]
    assert yesterday.downtime == 2 * H and yesterday.css == "down"
    assert yesterday.text == f"{yesterday.day.isoformat()}: 2 h 00 min of disruption"
    assert result.days[-3].downtime == H and result.days[-3].css == "down"
    assert today.css == "maint" and today.text.endswith("1 h 00 min of maintenance")
    assert result.days[0].text.endswith("no disruption") and result.days[0].css == "ok"


def test_an_outage_older_than_ninety_days_is_clipped_and_an_ongoing_one_counts_until_now():
    old = av.availability([(NOW - timedelta(days=200), NOW - timedelta(days=120))], [], NOW)
    assert old.downtime == timedelta(0) and old.percent == 100.0
    ongoing = av.availability([(NOW - 30 * timedelta(minutes=1), NOW + H)], [], NOW)
    assert ongoing.downtime == timedelta(minutes=30)
    assert ongoing.days[-1].css == "minor" and ongoing.percent < 100


def test_a_short_outage_never_rounds_up_to_one_hundred_percent():
    assert av.percent(timedelta(seconds=1), timedelta(days=90)) == 99.99
    assert av.percent(timedelta(0), timedelta(0)) == 100.0


@pytest.mark.django_db
def test_the_page_bar_uses_public_impact_windows_per_service_minus_its_maintenance():
    now = timezone.now()
    service, other = ServiceFactory(), ServiceFactory()
    MajorIncidentFactory(
        affected_services=[service],
        state="resolved",
        impact_started_at=now - timedelta(hours=5),
        declared_at=now - timedelta(hours=4),
        resolved_at=now - timedelta(hours=2),
    )
    MajorIncidentFactory(  # overlaps the first: one hour more
        affected_services=[service],
        state="resolved",
        impact_started_at=now - timedelta(hours=3),
        resolved_at=now - timedelta(hours=1),
    )
    MajorIncidentFactory(affected_services=[service], public=False, state="resolved", resolved_at=now)
    ongoing = MajorIncidentFactory(affected_services=[other], impact_started_at=None, declared_at=now - H)
    assert ongoing.impact_started_at is None
    window = MaintenanceWindow.objects.create(
        title="Patch", description="Patch.", starts_at=now - timedelta(hours=5), ends_at=now - timedelta(hours=4)
    )
    window.services.set([service])
    page = build.build(now)
    bars = {s.id: s.availability for s in page.services}
    assert bars[service.pk].downtime == 3 * H  # 5 h to 1 h ago, minus the hour of maintenance
    assert abs(bars[other.pk].downtime - H) < timedelta(seconds=1)  # declared_at until now


def test_fine_days_are_drawn_in_runs_and_other_days_one_by_one():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    outage = (now - timedelta(days=10, hours=2), now - timedelta(days=10))  # two hours, ten days ago
    result = av.availability([outage], [], now)
    segments = result.segments
    assert [(s.css, s.span) for s in segments] == [("ok", 79), ("down", 1), ("ok", 10)]
    assert segments[1].text == result.days[79].text and "2 h" in segments[1].text
    assert sum(s.span for s in segments) == 90 and result.notable_days == [result.days[79]]
