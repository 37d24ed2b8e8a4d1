"""/api/v1/major-incidents/{id}/incidents/ (link, list, unlink) and what an incident shows of its
major incident: the id and the latest external stakeholder update, at no extra query per row."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.major import links
from incidents.major.models import MajorIncidentEvent, StakeholderUpdate
from incidents.models import Incident, TimelineEvent
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/major-incidents/"


def stored():
    return (
        MajorIncidentEvent.objects.count(),
        TimelineEvent.objects.count(),
        list(Incident.objects.order_by("id").values_list("id", "version", "major_incident_id")),
    )


def test_link_list_and_unlink(api, mim, service):
    mi = MajorIncidentFactory(state="active")
    reports = [IncidentFactory(service=service) for _ in range(3)]
    client = api.as_user(mim)
    body = {"incidents": [reports[0].pk, reports[1].number, str(reports[2].pk)]}
    response = client.post(f"{URL}{mi.number}/incidents/", body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["linked"] == [r.pk for r in reports]
    assert [r["number"] for r in response.json()["incidents"]] == [r.number for r in reports]
    assert response["ETag"] == f'"v{mi.version + 1}"'
    again = client.post(f"{URL}{mi.pk}/incidents/", {"incidents": [reports[0].pk]}, format="json")
    assert again.status_code == 200 and again.json()["linked"] == []

    listed = client.get(f"{URL}{mi.pk}/incidents/?page_size=2").json()
    page2 = client.get(listed["next"]).json()
    rows = listed["results"] + page2["results"]
    assert [r["id"] for r in rows] == sorted([mi.incident_id, *(r.pk for r in reports)])
    assert [r["primary"] for r in rows] == [True, False, False, False]
    assert client.get(f"{URL}{mi.pk}/").json()["linked_incident_count"] == 4

    assert client.delete(f"{URL}{mi.pk}/incidents/{reports[0].pk}/").status_code == 204
    assert Incident.objects.get(pk=reports[0].pk).major_incident_id is None
    assert client.delete(f"{URL}{mi.pk}/incidents/{reports[1].number}/").status_code == 204
    assert client.delete(f"{URL}{mi.pk}/incidents/{reports[0].pk}/").status_code == 404  # not linked any more
    assert client.delete(f"{URL}{mi.pk}/incidents/999999/").status_code == 404
    primary = client.delete(f"{URL}{mi.pk}/incidents/{mi.incident_id}/")
    assert primary.status_code == 409 and mi.incident.number in primary.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"incidents": [999999, "INC0999998"]},
        {"incidents": []},
        {"incidents": "1"},
        {},
        {"incidents": [1], "move": True},
    ],
)
def test_bad_link_bodies_are_400(api, mim, body):
    mi = MajorIncidentFactory(state="active")
    before = stored()
    response = api.as_user(mim).post(f"{URL}{mi.pk}/incidents/", body, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) <= {"incidents", "move"} and response.json()["errors"]
    if body.get("incidents") == [999999, "INC0999998"]:
        assert "999999" in response.json()["errors"]["incidents"][0]
    assert stored() == before


def test_link_conflict_is_409_naming_the_other(api, mim, service):
    other = MajorIncidentFactory(state="active")
    taken = IncidentFactory(service=service)
    links.link_incidents(other, actor=mim, incidents=[taken])
    mi = MajorIncidentFactory(state="active")
    response = api.as_user(mim).post(f"{URL}{mi.pk}/incidents/", {"incidents": [taken.pk]}, format="json")
    assert response.status_code == 409 and other.number in response.json()["detail"]
    closed = MajorIncidentFactory(state="closed")
    late = api.as_user(mim).post(f"{URL}{closed.pk}/incidents/", {"incidents": [taken.pk]}, format="json")
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    assert api.as_user(mim).get(f"{URL}999999/incidents/").status_code == 404


# --- the incident side --------------------------------------------------------------------------
def test_an_incident_shows_its_major_incident_and_latest_external_update(api, agent, mim, service):
    mi = MajorIncidentFactory(state="active")
    report = IncidentFactory(service=service)
    links.link_incidents(mi, actor=mim, incidents=[report])
    client = api.as_user(agent)
    assert client.get(f"/api/v1/incidents/{report.pk}/").json()["major_incident_update"] is None
    now = timezone.now()
    StakeholderUpdate.objects.create(
        major_incident=mi,
        audience="external",
        status="investigating",
        body="We are on it.",
        posted_at=now - timedelta(minutes=20),
    )
    latest = StakeholderUpdate.objects.create(
        major_incident=mi,
        audience="external",
        status="identified",
        body="Found it.",
        posted_at=now - timedelta(minutes=10),
    )
    StakeholderUpdate.objects.create(
        major_incident=mi, audience="internal", status="monitoring", body="internal", posted_at=now
    )
    detail = client.get(f"/api/v1/incidents/{report.pk}/").json()
    assert detail["major_incident"] == mi.pk
    assert detail["major_incident_update"] == {
        "id": latest.pk,
        "status": "identified",
        "body": "Found it.",
        "posted_at": latest.posted_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    rows = {r["id"]: r for r in client.get("/api/v1/incidents/").json()["results"]}
    assert rows[report.pk]["major_incident_update"]["id"] == latest.pk
    assert rows[mi.incident_id]["major_incident_update"]["id"] == latest.pk


def test_the_incident_list_query_count_does_not_grow_with_major_incidents(api, agent, mim, service):
    client = api.as_user(agent)
    for i in range(12):
        IncidentFactory(service=service, title=f"plain {i}")
    client.get("/api/v1/incidents/")  # token and role caches warm up

    def count(size):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/v1/incidents/?page_size={size}").status_code == 200
        return len(ctx.captured_queries)

    without = count(12)
    for _ in range(3):
        mi = MajorIncidentFactory(state="active")
        reports = [IncidentFactory(service=service) for _ in range(3)]
        links.link_incidents(mi, actor=mim, incidents=reports)
        for n in range(4):
            StakeholderUpdate.objects.create(major_incident=mi, audience="external", status="identified", body=f"{n}")
    small, large = count(2), count(24)
    assert small == large <= without + 2, (without, small, large)
