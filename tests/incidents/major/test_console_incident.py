"""Major incidents from the incident console: propose and declare buttons on the incident page, the
"Major incident" panel there, and the bulk "Link to major incident" action of the incident list."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents.major import lifecycle, links, updates
from incidents.major.models import MajorIncident
from incidents.models import Incident
from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/incidents/incident/"


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def propose_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_propose_major_incident", args=[incident.pk])


def declare_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_declare_major_incident", args=[incident.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def incident(agent, service):
    return IncidentFactory(actor=agent, service=service, impact=1, urgency=1, title="Checkout fails everywhere")


# --- propose and declare from the incident page ---------------------------------------------------------
def test_agent_proposes_from_the_incident_page(client, agent, incident):
    client.force_login(agent)
    html = client.get(change_url(incident)).content.decode()
    assert propose_url(incident) in html
    assert declare_url(incident) not in html  # Major Incident Managers only

    response = client.get(propose_url(incident))
    assert response.status_code == 200 and "Why is this a major incident?" in response.content.decode()

    response = client.post(propose_url(incident), {"reason": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert not MajorIncident.objects.exists()

    response = client.post(propose_url(incident), {"reason": "Every shop is affected."})
    mi = MajorIncident.objects.get(incident=incident)
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:incidents_majorincident_change", args=[mi.pk]
    )
    assert (mi.state, mi.reason, mi.proposed_by) == ("proposed", "Every shop is affected.", agent)
    incident.refresh_from_db()
    assert incident.major_incident_id == mi.pk
    assert any("proposed" in t for t in texts(response))


def test_mim_declares_from_the_incident_page(client, mim, incident):
    client.force_login(mim)
    html = client.get(change_url(incident)).content.decode()
    assert declare_url(incident) in html
    response = client.post(declare_url(incident), {"reason": "All payments fail.", "title": "Payments outage"})
    assert response.status_code == 302
    mi = MajorIncident.objects.get(incident=incident)
    assert (mi.state, mi.title) == ("active", "Payments outage")
    assert mi.declared_at is not None


def test_agent_may_not_declare(client, agent, incident):
    client.force_login(agent)
    response = client.post(declare_url(incident), {"reason": "Let me."})
    assert response.status_code == 302
    assert any("Only Major Incident Managers declare" in t for t in texts(response))
    assert not MajorIncident.objects.exists()


def test_read_only_user_may_not_propose(client, reader, incident):
    client.force_login(reader)
    html = client.get(change_url(incident)).content.decode()
    assert propose_url(incident) not in html and declare_url(incident) not in html
    response = client.post(propose_url(incident), {"reason": "Me too."})
    assert any("may not propose" in t for t in texts(response))
    assert not MajorIncident.objects.exists()


def test_mim_accepts_a_proposal_from_the_incident_page(client, agent, mim, incident):
    mi = lifecycle.propose(actor=agent, incident=incident, reason="Looks big.")
    client.force_login(mim)
    html = client.get(change_url(incident)).content.decode()
    assert declare_url(incident) in html and propose_url(incident) not in html
    response = client.get(declare_url(incident))
    assert mi.number in response.content.decode() and "Looks big." in response.content.decode()
    response = client.post(declare_url(incident), {"version": mi.version})
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.state == "active"


def test_proposing_twice_is_refused_naming_the_first(client, agent, incident):
    first = lifecycle.propose(actor=agent, incident=incident, reason="Big.")
    client.force_login(agent)
    assert propose_url(incident) not in client.get(change_url(incident)).content.decode()
    response = client.post(propose_url(incident), {"reason": "Again."})
    assert response.status_code == 302
    assert any(first.number in t for t in texts(response))
    assert MajorIncident.objects.count() == 1


def test_closed_incident_offers_no_major_incident(client, mim, agent, service):
    closed = IncidentFactory(actor=agent, service=service, state="closed")
    client.force_login(mim)
    html = client.get(change_url(closed)).content.decode()
    assert propose_url(closed) not in html and declare_url(closed) not in html


# --- the panel on the incident page ---------------------------------------------------------------------
def test_linked_incident_shows_its_major_incident_and_latest_external_update(client, agent, mim, service):
    mi = MajorIncidentFactory(state="active", manager=mim, affected_services=[service], title="Payments down")
    child = IncidentFactory(actor=agent, service=service, title="Cannot pay")
    links.link_incidents(mi, actor=mim, incidents=[child])
    updates.post_update(mi, actor=mim, audience="external", status="identified", body="We found the cause.")
    updates.post_update(mi, actor=mim, audience="internal", status="identified", body="Staff only: cert expired.")
    client.force_login(agent)
    html = client.get(change_url(child)).content.decode()
    panel = html[html.index('id="major-incident-panel"') :]
    assert "Linked to" in panel and mi.number in panel and "Payments down" in panel
    assert "We found the cause." in panel and "Staff only" not in panel

    html = client.get(change_url(mi.incident)).content.decode()
    assert "Primary incident of" in html


def test_incident_without_a_major_incident_has_no_panel(client, agent, incident):
    client.force_login(agent)
    assert 'id="major-incident-panel"' not in client.get(change_url(incident)).content.decode()


# --- bulk "Link to major incident" -----------------------------------------------------------------------
def test_bulk_link_to_major_incident(client, mim, agent, service):
    mi = MajorIncidentFactory(state="active", manager=mim, affected_services=[service])
    reports = [IncidentFactory(actor=agent, service=service, title=f"Report {i}") for i in range(3)]
    ids = [i.pk for i in reports]
    client.force_login(mim)
    assert "link_to_major_incident" in client.get(CHANGELIST).content.decode()

    response = client.post(CHANGELIST, {"action": "link_to_major_incident", "_selected_action": ids})
    assert response.status_code == 200  # the intermediate form: which major incident?
    html = response.content.decode()
    assert mi.number in html and reports[0].number in html

    response = client.post(
        CHANGELIST, {"action": "link_to_major_incident", "_selected_action": ids, "apply": "1", "major_incident": mi.pk}
    )
    assert response.status_code == 302
    assert set(Incident.objects.filter(major_incident=mi).values_list("pk", flat=True)) >= set(ids)
    assert any(f"3 incident(s) linked to {mi.number}" in t for t in texts(response))


def test_bulk_link_offers_only_live_major_incidents(client, mim, agent, service):
    live = MajorIncidentFactory(state="active", manager=mim)
    over = MajorIncidentFactory(state="closed", manager=mim)
    report = IncidentFactory(actor=agent, service=service)
    client.force_login(mim)
    response = client.post(CHANGELIST, {"action": "link_to_major_incident", "_selected_action": [report.pk]})
    html = response.content.decode()
    assert live.number in html and over.number not in html
    response = client.post(
        CHANGELIST,
        {"action": "link_to_major_incident", "_selected_action": [report.pk], "apply": "1", "major_incident": over.pk},
    )
    assert response.status_code == 200  # not a valid choice
    report.refresh_from_db()
    assert report.major_incident_id is None


def test_bulk_link_refusal_links_nothing(client, mim, agent, service):
    first = MajorIncidentFactory(state="active", manager=mim)
    second = MajorIncidentFactory(state="active", manager=mim)
    taken = IncidentFactory(actor=agent, service=service)
    free = IncidentFactory(actor=agent, service=service)
    links.link_incidents(first, actor=mim, incidents=[taken])
    client.force_login(mim)
    response = client.post(
        CHANGELIST,
        {
            "action": "link_to_major_incident",
            "_selected_action": [taken.pk, free.pk],
            "apply": "1",
            "major_incident": second.pk,
        },
    )
    assert response.status_code == 302
    assert any("Nothing linked" in t for t in texts(response))
    taken.refresh_from_db()
    free.refresh_from_db()
    assert (taken.major_incident_id, free.major_incident_id) == (first.pk, None)


def test_agent_not_leading_the_major_incident_is_refused(client, mim, agent, service):
    mi = MajorIncidentFactory(state="active", manager=mim)
    report = IncidentFactory(actor=agent, service=service)
    client.force_login(agent)
    response = client.post(
        CHANGELIST,
        {"action": "link_to_major_incident", "_selected_action": [report.pk], "apply": "1", "major_incident": mi.pk},
    )
    assert any("Only Major Incident Managers and the leads" in t for t in texts(response))
    report.refresh_from_db()
    assert report.major_incident_id is None


def test_read_only_user_has_no_link_action(client, reader, agent, service, make_user):
    report = IncidentFactory(actor=agent, service=service)
    mi = MajorIncidentFactory(state="active", manager=make_user(roles.MAJOR_INCIDENT_MANAGER))
    client.force_login(reader)
    assert "link_to_major_incident" not in client.get(CHANGELIST).content.decode()
    client.post(
        CHANGELIST,
        {"action": "link_to_major_incident", "_selected_action": [report.pk], "apply": "1", "major_incident": mi.pk},
    )
    report.refresh_from_db()
    assert report.major_incident_id is None
