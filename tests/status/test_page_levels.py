"""Level derivation: the record's override, the priority default, worst wins, maintenance."""

from datetime import timedelta

import pytest
from django.utils import timezone

from status.models import MaintenanceWindow
from status.page import build, levels
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory


@pytest.mark.parametrize(
    ("override", "priority", "expected"),
    [
        ("", 1, "major_outage"),
        ("", 2, "partial_outage"),
        ("", 3, "degraded"),
        ("", 5, "degraded"),
        ("", None, "degraded"),
        ("degraded", 1, "degraded"),
        ("major_outage", 4, "major_outage"),
    ],
)
def test_a_major_incident_level_is_its_override_or_follows_the_priority(override, priority, expected):
    assert levels.level_of_major_incident(override, priority) == expected


def test_the_worst_level_wins_and_maintenance_yields_only_to_outages():
    assert levels.worst([]) == "operational"
    assert levels.worst(["degraded", "major_outage", "partial_outage"]) == "major_outage"
    assert levels.service_level([], in_maintenance=True) == "maintenance"
    assert levels.service_level(["degraded"], in_maintenance=True) == "maintenance"
    assert levels.service_level(["partial_outage"], in_maintenance=True) == "partial_outage"
    assert levels.service_level([], in_maintenance=False) == "operational"


def _level(service) -> str:
    page = build.build()
    return {s.id: s.level for s in page.services}[service.pk]


@pytest.mark.django_db
def test_levels_come_from_active_public_major_incidents_only():
    service = ServiceFactory()
    assert _level(service) == "operational"
    p2 = IncidentFactory(impact=1, urgency=2, service=service)  # P2
    assert p2.priority == 2
    MajorIncidentFactory(incident=p2, affected_services=[service])
    assert _level(service) == "partial_outage"
    MajorIncidentFactory(affected_services=[service], status_level="degraded")
    assert _level(service) == "partial_outage"  # worst wins
    MajorIncidentFactory(affected_services=[service], public=False, status_level="major_outage")
    MajorIncidentFactory(affected_services=[service], state="resolved", status_level="major_outage")
    MajorIncidentFactory(affected_services=[service], state="proposed", status_level="major_outage")
    assert _level(service) == "partial_outage"  # not public, resolved or only proposed: no effect
    MajorIncidentFactory(affected_services=[service], status_level="major_outage")
    assert _level(service) == "major_outage"
    assert build.build().banner == "Major outage"


@pytest.mark.django_db
def test_a_running_maintenance_window_sets_maintenance_unless_an_outage_is_worse():
    now = timezone.now()
    service, other = ServiceFactory(), ServiceFactory()
    window = MaintenanceWindow.objects.create(
        title="Database upgrade",
        description="Short interruptions.",
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=1),
    )
    window.services.set([service])
    future = MaintenanceWindow.objects.create(
        title="Later", description="Later.", starts_at=now + timedelta(hours=2), ends_at=now + timedelta(hours=3)
    )
    future.services.set([other])
    assert _level(service) == "maintenance" and _level(other) == "operational"
    page = build.build()
    assert page.banner == "Scheduled maintenance in progress"
    assert [(m.title, m.running) for m in page.maintenance] == [("Database upgrade", True), ("Later", False)]
    assert page.next_change_at == window.ends_at
    MajorIncidentFactory(affected_services=[service], status_level="partial_outage")
    assert _level(service) == "partial_outage"


@pytest.mark.django_db
def test_hidden_and_inactive_services_never_show_and_unarranged_ones_go_to_other_services(payroll):
    from status.models import StatusPageEntry

    hidden = ServiceFactory(name="Secret service")
    StatusPageEntry.objects.create(service=hidden, hidden=True)
    ServiceFactory(name="Retired", active=False)
    loose = ServiceFactory(name="Zeta")
    page = build.build()
    assert [(g.name, [s.name for s in g.services]) for g in page.groups] == [
        ("Business applications", ["Payroll"]),
        ("Other services", ["Zeta"]),
    ]
    assert loose.pk in {s.id for s in page.services} and hidden.pk not in {s.id for s in page.services}
