"""The stakeholder update endpoints: shapes, pagination, errors, Idempotency-Key, permission matrix."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.major.models import MajorIncident, StakeholderUpdate
from itsm import roles
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.incidents.major.urls")]

FIELDS = {
    "id",
    "audience",
    "status",
    "body",
    "next_update_due_at",
    "posted_at",
    "author",
    "due_at",
    "late_seconds",
    "on_time",
}
BODY = {"audience": "external", "status": "investigating", "body": "We are looking into it."}


@pytest.fixture
def people(make_user, mim, reader):
    return {
        "mim": mim,
        "manager": make_user(roles.SERVICE_DESK_AGENT),
        "comms_lead": make_user(roles.SERVICE_DESK_AGENT),
        "tech_lead": make_user(roles.RESOLVER),
        "agent": make_user(roles.SERVICE_DESK_AGENT),
        "reader": reader,
    }


@pytest.fixture
def mi(people):
    return MajorIncidentFactory(
        manager=people["manager"], comms_lead=people["comms_lead"], tech_lead=people["tech_lead"]
    )


def url(mi) -> str:
    return f"/api/v1/major-incidents/{mi.pk}/updates/"


def test_post_an_update_then_list_newest_first(api, mi, people):
    client = api.as_user(people["comms_lead"])
    first = client.post(url(mi), BODY, format="json")
    assert first.status_code == 201
    data = first.json()
    assert set(data) == FIELDS
    assert data["author"] == people["comms_lead"].pk and data["on_time"] is True and data["late_seconds"] == 0
    assert data["due_at"] is None and data["next_update_due_at"].endswith("Z")
    due = (timezone.now() + timedelta(minutes=10)).replace(microsecond=0)
    second = client.post(
        url(mi), {**BODY, "status": "identified", "next_update_due_at": due.isoformat()}, format="json"
    ).json()
    assert second["next_update_due_at"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert second["due_at"] == data["next_update_due_at"]
    listed = client.get(url(mi))
    assert listed.status_code == 200
    page = listed.json()
    assert page["count"] == 2 and [u["id"] for u in page["results"]] == [second["id"], data["id"]]
    assert MajorIncident.objects.get(pk=mi.pk).next_update_due_at == due


def test_updates_paginate(api, mi, people):
    for n in range(3):
        StakeholderUpdate.objects.create(major_incident=mi, audience="internal", status="identified", body=f"u{n}")
    response = api.as_user(people["reader"]).get(url(mi), {"page_size": 2, "page": 2})
    assert response.status_code == 200 and response.json()["count"] == 3 and len(response.json()["results"]) == 1
    assert api.as_user(people["reader"]).get(url(mi), {"page": "x"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"audience": "everyone"}, {"audience"}),
        ({"status": "fixed"}, {"status"}),
        ({"body": ""}, {"body"}),
        ({"body": "   "}, {"body"}),
        ({"next_update_due_at": "PAST"}, {"next_update_due_at"}),
        ({"next_update_due_at": "tomorrow"}, {"next_update_due_at"}),
        ({"audience": "x", "status": "y", "body": "", "next_update_due_at": "PAST"}, None),
        ({"author": 1}, {"author"}),
    ],
)
def test_bad_bodies_are_400_naming_every_field(api, mi, people, body, fields):
    if body.get("next_update_due_at") == "PAST":
        body = {**body, "next_update_due_at": (timezone.now() - timedelta(minutes=1)).isoformat()}
    fields = fields or {"audience", "status", "body", "next_update_due_at"}
    response = api.as_user(people["comms_lead"]).post(url(mi), {**BODY, **body}, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) == fields
    assert not StakeholderUpdate.objects.exists()
    assert MajorIncident.objects.get(pk=mi.pk).version == mi.version


@pytest.mark.parametrize("state", ["proposed", "in_review", "closed"])
def test_posting_in_the_wrong_state_is_409_naming_it(api, people, state):
    mi = MajorIncidentFactory(state=state)
    response = api.as_user(people["mim"]).post(url(mi), BODY, format="json")
    assert response.status_code == 409 and response.json()["current_state"] == state
    assert not StakeholderUpdate.objects.exists()


def test_idempotency_key_posts_once(api, mi, people):
    client = api.as_user(people["comms_lead"])
    first = client.post(url(mi), BODY, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    again = client.post(url(mi), BODY, format="json", HTTP_IDEMPOTENCY_KEY="u-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert StakeholderUpdate.objects.count() == 1


WHO = ["mim", "manager", "comms_lead", "tech_lead", "agent", "reader"]
MAY_POST = {"mim", "manager", "comms_lead"}


@pytest.mark.parametrize("who", WHO)
def test_permission_matrix(api, mi, people, who):
    client = api.as_user(people[who])
    assert client.get(url(mi)).status_code == 200
    response = client.post(url(mi), BODY, format="json")
    assert response.status_code == (201 if who in MAY_POST else 403)
    assert StakeholderUpdate.objects.count() == (1 if who in MAY_POST else 0)


def test_anonymous_is_401(client, mi):
    assert client.get(url(mi)).status_code == 401
    assert client.post(url(mi), BODY, content_type="application/json").status_code == 401
