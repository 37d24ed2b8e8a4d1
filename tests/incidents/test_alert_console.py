"""The incident page's Alert, Recurrences and Inbound email panels, and the list's alert column and filter.

Alerts and emails come in as integrations send them (`/api/v1/alerts/`, `/api/v1/inbound-email/`
with an Integration token); the console is read through the Django test client as an agent.
"""

import re
from email.message import EmailMessage
from html import unescape as html_unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from django.utils.timezone import localtime

from incidents.admin import IncidentAdmin
from incidents.admin import display as admin_display
from incidents.admin import incident as incident_admin
from incidents.admin.display import attachment_lines, pretty_details
from incidents.models import InboundMessage, Incident, IncidentAlert
from itsm import roles
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"
INBOUND = "/api/v1/inbound-email/"
CHANGELIST = "/admin/incidents/incident/"
PAGE_QUERY_BUDGET = 24  # ~18 before these panels; they may add at most 3, the task panel 1, the problem panel 2


@pytest.fixture
def integration(make_user):
    return make_user(roles.INTEGRATION, username="prometheus")


@pytest.fixture
def sender(api, integration):
    """The monitoring / mail gateway side: an API client with the integration's token."""
    return api.as_user(integration)


@pytest.fixture
def console(client, agent):
    client.force_login(agent)
    return client


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def trigger(sender, service, **fields) -> Incident:
    body = {
        "action": "trigger",
        "dedup_key": "db-1/disk",
        "summary": "Disk full on db-1",
        "severity": "critical",
        "source": "prometheus-eu",
        "service": service.slug,
    } | fields
    response = sender.post(ALERTS, body, format="json")
    assert response.status_code == 202, response.json()
    return Incident.objects.get(pk=response.json()["incident"]["id"])


def resolve(sender, dedup_key: str = "db-1/disk") -> None:
    response = sender.post(ALERTS, {"action": "resolve", "dedup_key": dedup_key}, format="json")
    assert response.status_code == 202, response.json()


def email(sender, subject="Printer on fire", message_id="<abc-1@mail.example.org>", attachments=()) -> Incident:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.org>"
    msg["To"] = "servicedesk@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content("The printer on floor 3 is on fire.\n")
    for filename, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    response = sender.post(INBOUND, msg.as_bytes(), content_type="message/rfc822")
    assert response.status_code in (200, 201, 202), response.content
    return InboundMessage.objects.get(message_id=message_id).incident


def page(console, incident: Incident) -> str:
    response = console.get(change_url(incident))
    assert response.status_code == 200
    return response.content.decode()


def page_queries(console, incident: Incident) -> int:
    console.get(change_url(incident))  # warm per-process caches (content types, templates)
    with CaptureQueriesContext(connection) as ctx:
        assert console.get(change_url(incident)).status_code == 200
    return len(ctx.captured_queries)


# --- the Alert panel -----------------------------------------------------------------------------
def test_alert_panel_shows_the_alert_of_a_monitoring_incident(console, sender, service):
    trigger(sender, service, details={"mount": "/var"})
    trigger(sender, service, details={"mount": "/var", "used": "99%"}, summary="Disk still full", severity="warning")
    incident = trigger(sender, service, details={"mount": "/var", "used": "100%"}, summary="Disk 100% full")

    html = page(console, incident)

    assert 'id="alert-panel"' in html
    assert 'id="alert-count">3<' in html
    assert "db-1/disk" in html
    assert "prometheus-eu" in html
    assert "Disk 100% full" in html  # the latest summary, not the title's first one
    assert "Critical" in html
    assert "&quot;used&quot;: &quot;100%&quot;" in html  # pretty-printed latest details
    assert "Acknowledged at" in html and "Monitoring reports resolved at" in html
    assert reverse("admin:incidents_incidentalert_change", args=[incident.pk]) in html
    assert 'id="inbound-messages"' not in html
    assert 'id="recurrences"' not in html


def test_acknowledge_and_monitoring_resolve_times_show(console, sender, service):
    incident = trigger(sender, service)
    response = sender.post(ALERTS, {"action": "acknowledge", "dedup_key": "db-1/disk"}, format="json")
    assert response.status_code == 202, response.json()
    resolve(sender)
    alert = IncidentAlert.objects.get(pk=incident.pk)
    assert alert.acknowledged_at is not None and alert.cleared_at is not None

    html = page(console, incident)

    for label, moment in (
        ("Acknowledged at", alert.acknowledged_at),
        ("Monitoring reports resolved at", alert.cleared_at),
    ):
        shown = re.search(rf"<dt[^>]*>{label}</dt>\s*<dd>([^<]*)</dd>", html).group(1)
        assert shown == localtime(moment).strftime("%Y-%m-%d %H:%M:%S"), label


def test_alert_details_are_escaped_and_capped(console, sender, service, monkeypatch):
    incident = trigger(sender, service, details={"html": "<script>alert(1)</script>", "blob": "x" * 500})
    monkeypatch.setattr(admin_display, "ALERT_DETAILS_LIMIT", 100)

    html = page(console, incident)

    shown = re.search(r'<pre id="alert-details"[^>]*>(.*?)</pre>', html, re.S).group(1)
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert len(html_unescape(shown)) == 100  # cut at the limit ...
    assert "more characters not shown" in html  # ... and said so


def test_pretty_details_and_attachment_lines():
    assert pretty_details({}) == ("", 0)
    text, cut = pretty_details({"a": 1, "b": [1, 2]})
    assert text.startswith("{\n  ") and cut == 0
    text, cut = pretty_details({"a": "y" * 50}, limit=20)
    assert len(text) == 20 and cut > 0
    assert attachment_lines([{"filename": "log.txt", "content_type": "text/plain", "size": 2048}]) == [
        "log.txt (text/plain, 2.0\xa0KB)"
    ]
    assert attachment_lines([{"size": True}, "odd"]) == ["(no name)", "odd"]
    assert attachment_lines(None) == []


# --- recurrences ---------------------------------------------------------------------------------
def test_a_recurrence_links_to_the_incident_it_recurs_from_and_back(console, sender, service):
    first = trigger(sender, service)
    resolve(sender)
    first.refresh_from_db()
    assert first.state == "resolved"
    second = trigger(sender, service, summary="Disk full again")
    assert second.pk != first.pk and second.parent_id == first.pk

    html = page(console, second)
    assert 'id="recurrences"' in html
    assert "Recurrence of" in html
    assert f'href="{change_url(first)}"' in html and first.number in html

    html = page(console, first)
    assert 'id="recurrences"' in html
    assert f'href="{change_url(second)}"' in html and second.number in html


def test_parent_and_children_of_a_plain_incident_show_as_related(console, agent, service):
    parent = IncidentFactory(actor=agent, service=service, title="Network down")
    child = IncidentFactory(actor=agent, service=service, title="VPN down", parent=parent)

    html = page(console, parent)
    assert "Related incidents" in html and f'href="{change_url(child)}"' in html
    assert 'id="alert-panel"' not in html


def test_many_children_are_capped_with_a_link_to_all(console, agent, service, monkeypatch):
    monkeypatch.setattr(incident_admin, "RELATED_LIMIT", 2)
    parent = IncidentFactory(actor=agent, service=service)
    children = [IncidentFactory(actor=agent, service=service, parent=parent) for _ in range(3)]

    html = page(console, parent)

    assert children[2].number in html and children[1].number in html and children[0].number not in html
    more = CHANGELIST + f"?parent__id__exact={parent.pk}"
    assert "list them all" in html and more in html
    listing = console.get(more)
    assert listing.status_code == 200
    assert all(c.number in listing.content.decode() for c in children)


# --- inbound email -------------------------------------------------------------------------------
def test_an_email_incident_shows_its_message(console, sender):
    incident = email(sender, attachments=[("photo.png", b"\x89PNG" + b"0" * 3068, "image", "png")])
    assert incident.channel == "email"
    message = InboundMessage.objects.get(incident=incident)

    html = page(console, incident)

    assert 'id="inbound-messages"' in html
    assert "ada@example.org" in html
    assert "Printer on fire" in html
    assert escape(message.message_id) in html
    assert "photo.png (image/png, 3.0\xa0KB)" in html
    assert "Opened an incident" in html
    assert reverse("admin:incidents_inboundmessage_change", args=[message.pk]) in html
    assert 'id="alert-panel"' not in html


def test_an_email_reply_is_listed_on_the_incident_it_commented(console, sender):
    incident = email(sender)
    email(sender, subject=f"Re: {incident.number} Printer on fire", message_id="<abc-2@mail.example.org>")

    html = page(console, incident)

    assert "Commented on an incident" in html and "Opened an incident" in html
    assert "&lt;abc-2@mail.example.org&gt;" in html


# --- nothing to show ---------------------------------------------------------------------------------
def test_a_plain_incident_has_no_intake_panels(console, agent, service):
    html = page(console, IncidentFactory(actor=agent, service=service, title="VPN is down"))

    assert 'id="alert-panel"' not in html
    assert 'id="recurrences"' not in html
    assert 'id="inbound-messages"' not in html
    assert 'id="timeline"' in html  # the rest of the page is there


# --- query budget --------------------------------------------------------------------------------
def test_change_page_query_budget(console, sender, agent, service, sla_policies, monkeypatch):
    plain = IncidentFactory(actor=agent, service=service)
    first = trigger(sender, service)
    resolve(sender)
    second = trigger(sender, service)  # alert row, a parent; then an email reply links a message to it
    email(sender, subject=f"Re: {second.number}", message_id="<reply-1@mail.example.org>")

    counts = {name: page_queries(console, incident) for name, incident in [("plain", plain), ("rich", second)]}
    counts["parent"] = page_queries(console, first)
    assert max(counts.values()) <= PAGE_QUERY_BUDGET, counts

    # What the panels themselves cost: the same page with them switched off.
    monkeypatch.setattr(IncidentAdmin, "_intake_context", lambda self, request, incident: {})
    without = page_queries(console, second)
    assert counts["rich"] - without <= 3, (counts, without)


def test_change_page_queries_do_not_grow_with_recurrences_or_messages(console, sender, service):
    first = trigger(sender, service)
    resolve(sender)
    trigger(sender, service)
    email(sender, subject=f"Re: {first.number}", message_id="<m-1@mail.example.org>")
    few = page_queries(console, first)

    for n in range(3):
        resolve(sender)
        trigger(sender, service, summary=f"Again {n}")
        email(sender, subject=f"Re: {first.number}", message_id=f"<m-{n + 2}@mail.example.org>")
    assert Incident.objects.filter(parent=first).count() == 4
    many = page_queries(console, first)

    assert many == few, f"{few} queries with 1 recurrence and 1 message, {many} with 4 and 4"


# --- the list: alert column and "from monitoring" filter ------------------------------------------------
def test_alert_column_and_monitoring_filter_on_the_list(console, sender, agent, service):
    alerted = trigger(sender, service)
    trigger(sender, service)
    trigger(sender, service)
    plain = IncidentFactory(actor=agent, service=service, title="Printer jam")

    html = console.get(CHANGELIST).content.decode()
    assert "×3" in html

    html = console.get(CHANGELIST + "?monitoring=yes").content.decode()
    assert alerted.number in html and plain.number not in html
    html = console.get(CHANGELIST + "?monitoring=no").content.decode()
    assert plain.number in html and alerted.number not in html
