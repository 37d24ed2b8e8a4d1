"""The responder endpoints: shapes, status codes, Idempotency-Key, and the permission matrix."""

import pytest

from communications.models import Notification
from incidents.major.models import Responder
from itsm import roles
from tests.factories import AssignmentGroupFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.incidents.major.urls")]

FIELDS = {
    "id",
    "user",
    "role",
    "assignment_group",
    "paged_at",
    "acknowledged_at",
    "page_count",
    "last_paged_at",
    "unanswered_at",
}


@pytest.fixture
def people(make_user, mim, reader):
    """One user per part people play around a major incident."""
    return {
        "mim": mim,
        "manager": make_user(roles.SERVICE_DESK_AGENT),
        "comms_lead": make_user(roles.SERVICE_DESK_AGENT),
        "tech_lead": make_user(roles.RESOLVER),
        "agent": make_user(roles.SERVICE_DESK_AGENT),
        "resolver": make_user(roles.RESOLVER),
        "reader": reader,
        "responder": make_user(roles.RESOLVER),
    }


@pytest.fixture
def mi(people):
    leads = {name: people[name] for name in ("manager", "comms_lead", "tech_lead")}
    return MajorIncidentFactory(**leads)


def url(mi, suffix="") -> str:
    return f"/api/v1/major-incidents/{mi.pk}/responders/{suffix}"


def test_page_a_person_then_list(api, mi, people):
    client = api.as_user(people["mim"])
    response = client.post(url(mi), {"user": people["responder"].pk, "role": "network"}, format="json")
    assert response.status_code == 201
    (row,) = response.json()
    assert set(row) == FIELDS
    assert row["user"] == people["responder"].pk and row["role"] == "network" and row["page_count"] == 1
    assert row["paged_at"].endswith("Z") and row["acknowledged_at"] is None and row["assignment_group"] is None
    listed = client.get(url(mi))
    assert listed.status_code == 200 and listed.json() == [row]
    by_number = client.get(f"/api/v1/major-incidents/{mi.number}/responders/")
    assert by_number.json() == [row]


def test_page_a_group_and_page_someone_again_without_duplicates(api, mi, people, make_user):
    client = api.as_user(people["mim"])
    group = AssignmentGroupFactory(members=[people["responder"], make_user(roles.RESOLVER)])
    response = client.post(url(mi), {"assignment_group": group.pk}, format="json")
    assert response.status_code == 201 and [r["assignment_group"] for r in response.json()] == [group.pk] * 2
    repeat = client.post(url(mi), {"user": people["responder"].pk}, format="json")
    assert repeat.status_code == 200 and len(repeat.json()) == 1 and repeat.json()[0]["page_count"] == 1
    assert Responder.objects.filter(major_incident=mi).count() == 2


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"user", "assignment_group"}),
        ({"user": "USER", "assignment_group": "GROUP"}, {"user", "assignment_group"}),
        ({"user": None, "assignment_group": None}, {"user", "assignment_group"}),
        ({"user": 999_999}, {"user"}),
        ({"user": "INACTIVE"}, {"user"}),
        ({"user": "abc"}, {"user"}),
        ({"assignment_group": 999_999}, {"assignment_group"}),
        ({"user": "USER", "role": "x" * 101}, {"role"}),
        ({"user": "USER", "colour": "red"}, {"colour"}),
    ],
)
def test_bad_bodies_are_400_naming_the_fields(api, mi, people, make_user, body, fields):
    values = {"USER": people["responder"].pk, "GROUP": AssignmentGroupFactory().pk}
    values["INACTIVE"] = make_user(roles.RESOLVER, is_active=False).pk
    body = {k: values.get(v, v) if isinstance(v, str) and k != "role" else v for k, v in body.items()}
    response = api.as_user(people["mim"]).post(url(mi), body, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) == fields
    assert not Responder.objects.exists() and not Notification.objects.exists()


def test_paging_on_a_resolved_major_incident_is_409_naming_the_state(api, people):
    mi = MajorIncidentFactory(state="resolved")
    response = api.as_user(people["mim"]).post(url(mi), {"user": people["responder"].pk}, format="json")
    assert response.status_code == 409 and response.json()["current_state"] == "resolved"
    assert "resolved" in response.json()["detail"]


def test_idempotency_key_pages_once(api, mi, people):
    client = api.as_user(people["mim"])
    headers = {"HTTP_IDEMPOTENCY_KEY": "page-1"}
    first = client.post(url(mi), {"user": people["responder"].pk}, format="json", **headers)
    again = client.post(url(mi), {"user": people["responder"].pk}, format="json", **headers)
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Notification.objects.filter(event="major_incident.paged", channel="email").count() == 1


def test_acknowledge_and_page_again(api, mi, people):
    (row,) = api.as_user(people["mim"]).post(url(mi), {"user": people["responder"].pk}, format="json").json()
    again = api.as_user(people["manager"]).post(url(mi, f"{row['id']}/page/"))
    assert again.status_code == 200 and again.json()["page_count"] == 2
    done = api.as_user(people["responder"]).post(url(mi, f"{row['id']}/acknowledge/"))
    assert done.status_code == 200 and done.json()["acknowledged_at"] is not None
    repeat = api.as_user(people["responder"]).post(url(mi, f"{row['id']}/acknowledge/"))
    assert repeat.status_code == 200 and repeat.json()["acknowledged_at"] == done.json()["acknowledged_at"]


def test_a_responder_of_another_major_incident_is_404(api, mi, people):
    (row,) = api.as_user(people["mim"]).post(url(mi), {"user": people["responder"].pk}, format="json").json()
    other = MajorIncidentFactory()
    client = api.as_user(people["mim"])
    assert client.post(url(other, f"{row['id']}/acknowledge/")).status_code == 404
    assert client.post(url(other, f"{row['id']}/page/")).status_code == 404
    assert client.get("/api/v1/major-incidents/MIM9999999/responders/").status_code == 404


# --- permission matrix ---------------------------------------------------------------------------
WHO = ["mim", "manager", "comms_lead", "tech_lead", "agent", "resolver", "reader", "responder"]
MAY_RUN = {"mim", "manager", "comms_lead", "tech_lead"}
MAY_ACKNOWLEDGE = {"mim", "manager", "responder"}


@pytest.mark.parametrize("who", WHO)
def test_permission_matrix(api, mi, people, who, make_user):
    (row,) = api.as_user(people["mim"]).post(url(mi), {"user": people["responder"].pk}, format="json").json()
    client = api.as_user(people[who])
    assert client.get(url(mi)).status_code == 200

    paged = client.post(url(mi), {"user": make_user(roles.RESOLVER).pk}, format="json")
    assert paged.status_code == (201 if who in MAY_RUN else 403)
    again = client.post(url(mi, f"{row['id']}/page/"))
    assert again.status_code == (200 if who in MAY_RUN else 403)
    acknowledged = client.post(url(mi, f"{row['id']}/acknowledge/"))
    assert acknowledged.status_code == (200 if who in MAY_ACKNOWLEDGE else 403)
    if acknowledged.status_code == 403:
        assert acknowledged.json()["type"] == "permission_denied" and acknowledged.json()["detail"]
        assert Responder.objects.get(pk=row["id"]).acknowledged_at is None


def test_anonymous_is_401(client, mi):
    assert client.get(url(mi)).status_code == 401
    assert client.post(url(mi), {"user": 1}, content_type="application/json").status_code == 401
