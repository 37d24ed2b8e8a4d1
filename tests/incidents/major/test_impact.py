"""Business impact: milestones, intervals and the two costs, on hand-computed cases (Decimal, never float)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from incidents.major import impact
from incidents.major.models import MajorIncident, MajorIncidentSettings, Responder
from tests.factories import ServiceFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def services():
    return [ServiceFactory(downtime_cost_per_hour="1000.00"), ServiceFactory(downtime_cost_per_hour="250.50")]


@pytest.fixture
def rate():
    settings = MajorIncidentSettings.current()
    settings.responder_hourly_rate = Decimal("120.00")
    settings.save()
    return settings.responder_hourly_rate


def responders(mi, make_user):
    # R1 acknowledged, engaged to the resolution; R2 never acknowledged (counts from the page);
    # R3 released an hour after acknowledging.
    Responder.objects.create(major_incident=mi, user=make_user(), paged_at=at(10, 15), acknowledged_at=at(10, 20))
    Responder.objects.create(major_incident=mi, user=make_user(), paged_at=at(10, 16))
    Responder.objects.create(
        major_incident=mi, user=make_user(), paged_at=at(10, 30), acknowledged_at=at(10, 40), released_at=at(11, 40)
    )
    Responder.objects.create(major_incident=mi, user=make_user())  # added, never paged: nothing


def test_a_resolved_major_incident_by_hand(services, rate, make_user):
    mi = MajorIncidentFactory(
        state="resolved",
        affected_services=services,
        impact_started_at=at(10, 0),
        detected_at=at(10, 7, 30),
        declared_at=at(10, 15),
        mitigated_at=at(11, 30),
        resolved_at=at(12, 45),
    )
    responders(mi, make_user)
    result = impact.business_impact(MajorIncident.objects.get(pk=mi.pk), now=at(18, 0))
    assert result.time_to_detect == timedelta(minutes=7, seconds=30)
    assert result.time_to_declare == timedelta(minutes=7, seconds=30)
    assert result.time_to_mitigate == timedelta(hours=1, minutes=30)
    assert result.time_to_restore == result.duration == timedelta(hours=2, minutes=45)
    # 2.75 h x (1000.00 + 250.50) = 3438.875 -> 3438.88 (half up)
    assert result.estimated_cost == Decimal("3438.88")
    # (145 + 149 + 60) min = 5.9 h x 120.00 = 708.00, never added into the downtime cost
    assert result.response_effort_cost == Decimal("708.00")
    assert isinstance(result.estimated_cost, Decimal) and isinstance(result.response_effort_cost, Decimal)
    assert result.live is False


def test_live_while_active(services, rate, make_user):
    mi = MajorIncidentFactory(state="active", affected_services=services, impact_started_at=at(10, 0))
    Responder.objects.create(major_incident=mi, user=make_user(), paged_at=at(10, 6), acknowledged_at=at(10, 6))
    result = impact.business_impact(mi, now=at(10, 36))
    assert result.duration == timedelta(minutes=36) and result.live is True
    assert result.estimated_cost == Decimal("750.30")  # 0.6 h x 1250.50
    assert result.response_effort_cost == Decimal("60.00")  # 0.5 h x 120.00
    later = impact.business_impact(mi, now=at(11, 0))
    assert later.estimated_cost == Decimal("1250.50")


def test_frozen_once_resolved(services):
    mi = MajorIncidentFactory(
        state="closed",
        affected_services=services,
        impact_started_at=at(10, 0),
        resolved_at=at(12, 0),
        estimated_cost=Decimal("2501.00"),
        response_effort_cost=Decimal("42.00"),
    )
    services[0].downtime_cost_per_hour = Decimal("99999.00")
    services[0].save()
    result = impact.business_impact(MajorIncident.objects.get(pk=mi.pk), now=at(23, 0))
    assert (result.estimated_cost, result.response_effort_cost) == (Decimal("2501.00"), Decimal("42.00"))
    assert result.duration == timedelta(hours=2)


def test_rounding_is_half_up_to_the_cent():
    assert impact.cost(timedelta(seconds=20), Decimal("100.00")) == Decimal("0.56")  # 0.5555...
    assert impact.cost(timedelta(seconds=18), Decimal("100.00")) == Decimal("0.50")
    assert impact.cost(timedelta(microseconds=1), Decimal("1.00")) == Decimal("0.00")
    assert impact.cost(timedelta(seconds=-5), Decimal("100.00")) == Decimal("0.00")


def test_no_impact_start_no_cost(services):
    mi = MajorIncidentFactory(state="proposed", affected_services=services)
    result = impact.business_impact(mi)
    assert result.duration is None and result.estimated_cost == Decimal("0.00")
    assert result.time_to_detect is None and result.live is True
