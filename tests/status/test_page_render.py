"""The public page and feed: what shows, what never shows (the leak test), valid Atom."""

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from status.models import MaintenanceWindow
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.status.conftest import post

ATOM = "{http://www.w3.org/2005/Atom}"
pytestmark = pytest.mark.django_db


def page(client) -> str:
    response = client.get("/status/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    return response.content.decode()


def feed(client) -> ElementTree.Element:
    response = client.get("/status/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return ElementTree.fromstring(response.content)


def test_the_page_needs_no_login_and_shows_the_incident_its_external_update_and_the_level(client, outage):
    html = page(client)
    assert "Payroll unavailable" in html and outage.number in html
    assert "Payroll is unavailable. We are investigating." in html
    assert "Major outage" in html  # the banner and the service, in words
    assert 'data-level="major_outage"' in html
    assert "Next update by" in html
    assert "Restarting the connection pool" not in html  # the internal update


def test_nothing_internal_leaks_to_the_page_or_the_feed(client, make_user, payroll):
    """Staff names, internal notes, INC numbers, bridge and chat, service descriptions and hosts."""
    from itsm import roles

    manager = make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maximilian", last_name="Geheimrat", is_staff=True)
    comms = make_user(roles.SERVICE_DESK_AGENT, first_name="Cordelia", last_name="Whisperwind", is_staff=True)
    primary = IncidentFactory(
        impact=1, urgency=1, service=payroll, title="Payroll down", caller_name="Carla Caller", actor=comms
    )
    linked = IncidentFactory(impact=2, urgency=2, service=payroll, title="Cannot open payroll")
    mi = MajorIncidentFactory(
        incident=primary,
        title="Payroll unavailable",
        manager=manager,
        comms_lead=comms,
        tech_lead=comms,
        bridge_url="https://meet.example.com/bridge-7781",
        chat_channel="#inc-war-room-7781",
        impact_summary="Internal impact summary: 1,200 employees on pay-db-01.corp.internal",
        reason="Internal reason for declaring",
        affected_services=[payroll],
    )
    mi.stakeholders.set([comms])
    post(mi, "external", "We are investigating payroll.", author=comms)
    post(mi, "internal", "Internal note: pay-db-01 pool exhausted, ping Maximilian.", author=manager)
    resolved = MajorIncidentFactory(
        title="Email outage", state="resolved", affected_services=[payroll], bridge_url="https://meet.example.com/b2"
    )
    post(resolved, "internal", "Internal-only resolution note", status="resolved")
    secret = [
        "Maximilian",
        "Geheimrat",
        "Cordelia",
        "Whisperwind",
        "Carla Caller",
        primary.number,
        linked.number,
        resolved.incident.number,
        "meet.example.com",
        "bridge-7781",
        "#inc-war-room-7781",
        "Internal note",
        "Internal-only",
        "Internal impact summary",
        "Internal reason",
        "pay-db-01",
        "corp.internal",
        "Payroll backend",  # the internal service name: the public name is "Payroll"
    ]
    assert primary.number.startswith("INC")
    html = page(client)
    body = client.get("/status/feed.atom").content.decode()
    assert "We are investigating payroll." in html and "We are investigating payroll." in body
    for text in secret:
        assert text not in html, text
        assert text not in body, text


def test_services_are_grouped_as_arranged_with_public_names_and_descriptions(client, payroll, email_service):
    html = page(client)
    assert html.index("Business applications") < html.index("Other services")
    assert "Payroll runs and payslips." in html
    assert html.index(">Payroll<") < html.index(">Email<")
    assert "All systems operational" in html
    # Two services with 90 fine days each: one run per bar, spanning the 90 day columns.
    assert html.count('<i class="cell cell-ok" style="grid-column:span 90"></i>') == 2
    assert "100.00% available over the last 90 days" in html


def test_maintenance_and_the_last_fourteen_days_show_with_their_text(client, payroll):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        title="Payroll database upgrade",
        description="Payroll is read-only for ten minutes.",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
    )
    window.services.set([payroll])
    done = MajorIncidentFactory(
        title="Slow payroll exports",
        state="resolved",
        declared_at=now - timedelta(days=3),
        resolved_at=now - timedelta(days=3) + timedelta(hours=2),
        affected_services=[payroll],
    )
    post(done, "external", "Exports are slow.", minutes_ago=60 * 24 * 3)
    post(done, "external", "Exports are fast again.", status="resolved", minutes_ago=60 * 24 * 3 - 120)
    old = MajorIncidentFactory(
        title="Ancient outage",
        state="closed",
        declared_at=now - timedelta(days=30),
        resolved_at=now - timedelta(days=29),
        affected_services=[payroll],
    )
    html = page(client)
    assert "Payroll database upgrade" in html and "Payroll is read-only for ten minutes." in html
    assert "Slow payroll exports" in html and done.number in html
    assert "Exports are fast again." in html and "Exports are slow." not in html  # the final update only
    assert "Ancient outage" not in html and old.number not in html


def test_the_feed_is_valid_atom_with_one_entry_per_external_update_and_stable_ids(client, outage):
    post(outage, "external", "We found the cause.", status="identified")
    root = feed(client)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{name}") is not None, name
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 2  # the external updates; never the internal one
    for entry in entries:
        for name in ("id", "title", "updated", "link"):
            assert entry.find(f"{ATOM}{name}") is not None, name
        assert entry.find(f"{ATOM}id").text.startswith("tag:127.0.0.1,2026:status/update/")
    titles = [e.find(f"{ATOM}title").text for e in entries]
    assert titles[0] == f"Payroll unavailable ({outage.number}): Identified"
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert ids == [e.find(f"{ATOM}id").text for e in feed(client).findall(f"{ATOM}entry")]


def test_maintenance_announcements_are_feed_entries(client, payroll):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        title="Network change",
        description="Brief VPN drops.",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
    )
    (entry,) = feed(client).findall(f"{ATOM}entry")
    assert entry.find(f"{ATOM}id").text.endswith(f"status/maintenance/{window.pk}")
    assert entry.find(f"{ATOM}title").text.startswith("Scheduled maintenance: Network change")


def test_the_page_is_responsive_markup_with_landmarks_and_labels(client, outage):
    html = page(client)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for landmark in ('role="banner"', '<main id="main"', 'role="contentinfo"'):
        assert landmark in html
    assert '<label for="subscribe-email">' in html and 'id="subscribe-email"' in html
    assert "status/status.css" in html and "csrfmiddlewaretoken" not in html
