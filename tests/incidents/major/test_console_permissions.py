"""Who sees which major incident page and button in the console, and what each one's click does.

Roles: a Major Incident Manager, an ITSM Administrator, the agent named communications lead on
the record, an agent not on it, and a Read Only user. Every page renders for each of them; the
buttons follow `incidents.major.policy`; a refused click changes nothing and says why.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from incidents.major import lifecycle
from incidents.major.models import MajorIncident, MajorIncidentSettings, Responder, StakeholderUpdate
from incidents.models import Incident
from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

ROLES = ["mim", "administrator", "comms_lead", "agent", "reader"]
RUNS = {"mim", "administrator", "comms_lead"}  # policy.can_run: MIMs, administrators, the record's leads
MANAGES = {"mim", "administrator"}  # policy.can_declare / can_transition


@pytest.fixture
def people(mim, administrator, comms_lead, agent, reader) -> dict:
    return {"mim": mim, "administrator": administrator, "comms_lead": comms_lead, "agent": agent, "reader": reader}


@pytest.fixture
def active(make_user, comms_lead, service):
    """Active, managed by another MIM, with `comms_lead` as its communications lead."""
    owner = make_user(roles.MAJOR_INCIDENT_MANAGER, is_staff=True)
    return MajorIncidentFactory(state="active", manager=owner, comms_lead=comms_lead, affected_services=[service])


@pytest.fixture
def proposed(agent, service):
    incident = IncidentFactory(actor=agent, service=service, impact=1, urgency=1)
    return lifecycle.propose(actor=agent, incident=incident, reason="Big.")


def url(name: str, mi: MajorIncident, *args) -> str:
    return reverse(f"admin:incidents_majorincident_{name}", args=[mi.pk, *args])


def said(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


# --- pages ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_list_and_the_workbench(client, people, active, proposed, role):
    client.force_login(people[role])
    assert client.get("/admin/incidents/majorincident/").status_code == 200
    for mi in (active, proposed):
        response = client.get(reverse("admin:incidents_majorincident_change", args=[mi.pk]))
        assert response.status_code == 200
        assert mi.number in response.content.decode()
    assert client.get(url("timeline_markdown", active)).status_code == 200
    assert client.get(url("review_markdown", active)).status_code == 200
    assert client.get("/admin/incidents/stakeholderupdate/").status_code == 200


@pytest.mark.parametrize(
    "role, status", [("administrator", 200), ("mim", 200), ("comms_lead", 403), ("agent", 403), ("reader", 403)]
)
def test_settings_page_by_role(client, people, role, status):
    client.force_login(people[role])
    row = MajorIncidentSettings.current()
    assert client.get(f"/admin/incidents/majorincidentsettings/{row.pk}/change/").status_code == status


def test_anonymous_is_sent_to_the_login(client, active):
    response = client.get(reverse("admin:incidents_majorincident_change", args=[active.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(url("post_update", active), {"update-body": "x"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not StakeholderUpdate.objects.exists()


# --- buttons shown --------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_buttons_on_an_active_major_incident(client, people, active, role):
    client.force_login(people[role])
    html = client.get(reverse("admin:incidents_majorincident_change", args=[active.pk])).content.decode()
    shown = {
        "resolve": url("transition", active, "resolve") in html,
        "team": 'id="record_form"' in html,
        "composer": 'id="update_form"' in html,
        "page": 'id="page_form"' in html,
        "link": 'id="link_form"' in html,
        "review": 'id="review_form"' in html,
    }
    runs = role in RUNS
    assert shown == {
        "resolve": role in MANAGES,
        "team": runs,
        "composer": runs,  # can_post_update: the comms lead, the manager, MIMs
        "page": runs,
        "link": runs,
        "review": runs,
    }


@pytest.mark.parametrize("role", ROLES)
def test_only_managers_see_declare_and_reject(client, people, proposed, role):
    client.force_login(people[role])
    html = client.get(reverse("admin:incidents_majorincident_change", args=[proposed.pk])).content.decode()
    assert (url("transition", proposed, "declare") in html) == (role in MANAGES)
    assert (url("transition", proposed, "reject") in html) == (role in MANAGES)


@pytest.mark.parametrize("role", ["reader", "agent"])
def test_read_only_page_says_why(client, people, active, role):
    client.force_login(people[role])
    html = client.get(reverse("admin:incidents_majorincident_change", args=[active.pk])).content.decode()
    assert "may change it" in html
    assert "<form" not in html[html.index('id="workbench"') :].split("<script")[0]


# --- clicks --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_declare_by_role(client, people, proposed, role):
    client.force_login(people[role])
    response = client.post(url("transition", proposed, "declare"), {"declare-version": proposed.version})
    assert response.status_code == 302
    proposed.refresh_from_db()
    if role in MANAGES:
        assert proposed.state == "active"
    else:
        assert proposed.state == "proposed"
        assert "Only Major Incident Managers" in said(response)


@pytest.mark.parametrize("role", ROLES)
def test_post_update_by_role(client, people, active, role):
    client.force_login(people[role])
    response = client.post(
        url("post_update", active),
        {"update-audience": "internal", "update-status": "investigating", "update-body": "We are on it."},
    )
    assert response.status_code == 302
    posted = StakeholderUpdate.objects.filter(major_incident=active).exists()
    assert posted == (role in RUNS)
    if not posted:
        assert "post updates" in said(response)


@pytest.mark.parametrize("role", ROLES)
def test_page_by_role(client, people, active, make_user, role):
    engineer = make_user(roles.RESOLVER)
    client.force_login(people[role])
    response = client.post(url("page", active), {"page-user": engineer.pk})
    assert response.status_code == 302
    assert Responder.objects.filter(major_incident=active).exists() == (role in RUNS)


@pytest.mark.parametrize("role", ROLES)
def test_link_by_role(client, people, active, agent, service, role):
    report = IncidentFactory(actor=agent, service=service)
    client.force_login(people[role])
    response = client.post(url("link", active), {"link-numbers": report.number})
    assert response.status_code == 302
    linked = Incident.objects.filter(pk=report.pk, major_incident=active).exists()
    assert linked == (role in RUNS)


@pytest.mark.parametrize("role", ROLES)
def test_team_form_by_role(client, people, active, role):
    version = active.version
    client.force_login(people[role])
    response = client.post(
        url("record", active),
        {
            "record-version": version,
            "record-title": active.title,
            "record-manager": active.manager_id,
            "record-comms_lead": active.comms_lead_id,
            "record-update_cadence_minutes": active.update_cadence_minutes,
            "record-affected_services": [s.pk for s in active.affected_services.all()],
            "record-chat_channel": "#changed",
        },
    )
    assert response.status_code == 302
    active.refresh_from_db()
    assert (active.chat_channel == "#changed") == (role in RUNS)
    if role not in RUNS:
        assert active.version == version
