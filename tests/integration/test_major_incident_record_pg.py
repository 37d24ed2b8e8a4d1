"""A major incident's record on PostgreSQL through the API: MIM numbers from the sequence, row locks,
bulk links, the merged timeline's seek pages (UNION ALL, timestamptz), the latest external update
per incident (a sliced prefetch: a window function), resolve_linked and the hand-off event."""

import pytest

from incidents.major.models import MajorIncident, PostIncidentReview, StakeholderUpdate
from incidents.models import Incident, TimelineEvent
from itsm import roles
from itsm.models import DomainEvent
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/major-incidents/"


def test_a_major_incident_from_proposal_to_hand_off(api, make_user, group, service):
    agent = make_user(roles.SERVICE_DESK_AGENT, groups=[group])
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    primary = IncidentFactory(service=service, impact=1, urgency=1)
    reports = [IncidentFactory(service=service) for _ in range(25)]
    proposed = api.as_user(agent).post(URL, {"incident": primary.number, "reason": "Shops down."}, format="json")
    assert proposed.status_code == 201, proposed.json()
    mi = proposed.json()
    assert mi["number"].startswith("MIM")
    client = api.as_user(mim)
    declared = client.post(f"{URL}{mi['id']}/transitions/declare/", {}, format="json", HTTP_IF_MATCH=proposed["ETag"])
    assert declared.status_code == 200 and declared.json()["state"] == "active"

    linked = client.post(f"{URL}{mi['number']}/incidents/", {"incidents": [r.pk for r in reports]}, format="json")
    assert linked.status_code == 200 and len(linked.json()["linked"]) == 25
    assert Incident.objects.filter(major_incident_id=mi["id"]).count() == 26

    record = MajorIncident.objects.get(pk=mi["id"])
    StakeholderUpdate.objects.create(major_incident=record, audience="external", status="identified", body="Found.")
    rows = {r["id"]: r for r in client.get("/api/v1/incidents/?page_size=50").json()["results"]}
    assert rows[reports[0].pk]["major_incident_update"]["body"] == "Found."

    seen, url = [], f"{URL}{mi['id']}/timeline/?page_size=7"
    while url:
        page = client.get(url).json()
        seen += page["results"]
        url = page["next"]
    keys = [(e["record"][:3], e["id"]) for e in seen]
    assert len(keys) == len(set(keys)) and [e["at"] for e in seen] == sorted(e["at"] for e in seen)
    expected = (
        record.timeline.count()
        + TimelineEvent.objects.filter(incident__major_incident=record).exclude(type="notified").count()
    )
    assert len(seen) == expected

    body = {"resolve_linked": True, "resolution_code": "fixed", "resolution_notes": "Rolled back."}
    resolved = client.post(f"{URL}{mi['id']}/transitions/resolve/", body, format="json")
    assert resolved.status_code == 200 and resolved.json()["estimated_cost"] == str(
        MajorIncident.objects.get(pk=mi["id"]).estimated_cost
    )
    assert set(Incident.objects.filter(major_incident_id=mi["id"]).values_list("state", flat=True)) == {"resolved"}
    assert client.post(f"{URL}{mi['id']}/transitions/start_review/", {}, format="json").status_code == 200
    assert client.post(f"{URL}{mi['id']}/transitions/close/", {}, format="json").status_code == 409
    PostIncidentReview.objects.filter(major_incident_id=mi["id"]).update(
        summary="s", root_cause="Bad deploy.", lessons_learned="Canary first."
    )
    closed = client.post(f"{URL}{mi['id']}/transitions/close/", {}, format="json")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    event = DomainEvent.objects.get(name="major_incident.closed")
    assert event.payload["root_cause"] == "Bad deploy." and len(event.payload["incidents"]) == 26
