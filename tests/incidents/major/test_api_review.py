"""The review API: GET/PUT .../review/ (ETag, If-Match), action items (Idempotency-Key, PATCH),
the Markdown export, and the permission matrix per role."""

import pytest

from incidents.major.models import ActionItem, MajorIncidentEvent, PostIncidentReview
from itsm import roles
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

SECTIONS = {
    "summary": "Payroll was down for two hours.",
    "root_cause": "An expired certificate.",
    "contributing_factors": "",
    "went_well": "Quick declaration.",
    "went_badly": "",
    "lessons_learned": "Monitor expiry.",
}


@pytest.fixture
def tech_lead(make_user):
    return make_user(roles.RESOLVER, first_name="Tara", last_name="Tech")


@pytest.fixture
def manager(make_user):
    """The manager named on the record, without the Major Incident Manager role."""
    return make_user(roles.SERVICE_DESK_AGENT, first_name="Nina", last_name="Named")


@pytest.fixture
def owner(make_user):
    return make_user(roles.RESOLVER, first_name="Olga", last_name="Owner")


@pytest.fixture
def mi(manager, comms_lead, tech_lead):
    return MajorIncidentFactory(state="in_review", manager=manager, comms_lead=comms_lead, tech_lead=tech_lead)


@pytest.fixture
def item(mi, owner):
    review = PostIncidentReview.objects.create(major_incident=mi)
    return ActionItem.objects.create(review=review, title="Alert on expiry", owner=owner, due_date="2030-04-01")


def url(mi, rest=""):
    return f"/api/v1/major-incidents/{mi.pk}/review/{rest}"


# --- GET/PUT review -----------------------------------------------------------------------------
def test_get_returns_the_review_with_its_etag_completeness_and_items(api, reader, mi, item):
    response = api.as_user(reader).get(url(mi))
    assert response.status_code == 200, response.content
    body = response.json()
    assert response["ETag"] == '"v1"'
    assert set(body) == {
        "major_incident",
        *SECTIONS,
        "timeline_markdown",
        "complete",
        "missing",
        "version",
        "updated_at",
        "updated_by",
        "action_items",
    }
    assert body["complete"] is False
    assert body["missing"] == ["summary is empty", "root_cause is empty", "lessons_learned is empty"]
    assert body["action_items"] == [
        {
            "id": item.pk,
            "title": "Alert on expiry",
            "owner": item.owner_id,
            "due_date": "2030-04-01",
            "done": False,
            "done_at": None,
            "created_at": item.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": body["action_items"][0]["updated_at"],
        }
    ]


def test_the_record_is_addressed_by_number_too_and_an_unknown_one_is_404(api, reader, mi):
    assert api.as_user(reader).get(f"/api/v1/major-incidents/{mi.number.lower()}/review/").status_code == 200
    missing = api.get("/api/v1/major-incidents/MIM9999999/review/")
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


def test_put_writes_every_section_and_answers_the_new_etag(api, manager, mi):
    response = api.as_user(manager).put(url(mi), SECTIONS, format="json", HTTP_IF_MATCH='"v1"')
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"v2"' and response.json()["version"] == 2
    assert response.json()["complete"] is True and response.json()["missing"] == []
    assert response.json()["updated_by"] == manager.pk
    stored = PostIncidentReview.objects.get(major_incident=mi)
    assert stored.summary == SECTIONS["summary"]
    event = MajorIncidentEvent.objects.get(major_incident=mi, type="review_changed")
    assert event.data == {"fields": ["summary", "root_cause", "went_well", "lessons_learned"]}


def test_put_keeps_the_timeline_when_it_is_left_out(api, manager, mi):
    PostIncidentReview.objects.create(major_incident=mi, timeline_markdown="## pre-filled")
    api.as_user(manager).put(url(mi), SECTIONS, format="json")
    assert PostIncidentReview.objects.get(major_incident=mi).timeline_markdown == "## pre-filled"
    body = {**SECTIONS, "timeline_markdown": "## edited"}
    assert api.put(url(mi), body, format="json").json()["timeline_markdown"] == "## edited"


def test_a_stale_if_match_is_412_and_changes_nothing(api, manager, mi):
    api.as_user(manager).put(url(mi), SECTIONS, format="json")
    response = api.put(url(mi), {**SECTIONS, "summary": "lost"}, format="json", HTTP_IF_MATCH='"v1"')
    assert response.status_code == 412 and response.json()["type"] == "precondition_failed"
    bad = api.put(url(mi), SECTIONS, format="json", HTTP_IF_MATCH='"abc"')
    assert bad.status_code == 412
    assert PostIncidentReview.objects.get(major_incident=mi).summary == SECTIONS["summary"]


def test_put_names_every_missing_unknown_or_read_only_field(api, manager, mi):
    response = api.as_user(manager).put(url(mi), {"summary": "s", "version": 9, "colour": "red"}, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {
        "root_cause",
        "contributing_factors",
        "went_well",
        "went_badly",
        "lessons_learned",
        "version",
        "colour",
    }
    assert errors["version"] == ["This field is read-only."] and errors["colour"] == ["Unknown field."]
    assert not MajorIncidentEvent.objects.filter(major_incident=mi, type="review_changed").exists()


@pytest.mark.parametrize("state", ["closed", "rejected", "proposed"])
def test_put_on_a_frozen_record_is_409_naming_the_state(api, mim, state):
    mi = MajorIncidentFactory(state=state)
    response = api.as_user(mim).put(url(mi), SECTIONS, format="json")
    assert response.status_code == 409
    assert response.json()["errors"] == {"state": [f"The major incident is {state}."]}


# --- action items -------------------------------------------------------------------------------
def test_post_creates_an_item_once_per_idempotency_key(api, manager, mi, owner):
    body = {"title": "Alert on expiry", "owner": owner.pk, "due_date": "2030-04-01"}
    first = api.as_user(manager).post(url(mi, "action-items/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201, first.content
    assert first.json()["owner"] == owner.pk and first.json()["done"] is False
    again = api.post(url(mi, "action-items/"), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ActionItem.objects.count() == 1
    other = api.post(url(mi, "action-items/"), {**body, "title": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 409


def test_post_names_the_bad_fields(api, manager, mi):
    response = api.as_user(manager).post(
        url(mi, "action-items/"), {"owner": 987654, "due_date": "soon", "done_at": None}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "due_date", "done_at"}
    no_user = api.post(url(mi, "action-items/"), {"title": "t", "owner": 987654}, format="json")
    assert no_user.status_code == 400 and list(no_user.json()["errors"]) == ["owner"]
    assert not ActionItem.objects.exists()


def test_list_is_paginated_and_ordered(api, reader, mi, item):
    ActionItem.objects.create(review=item.review, title="Second")
    response = api.as_user(reader).get(url(mi, "action-items/") + "?page_size=1")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and [i["title"] for i in body["results"]] == ["Alert on expiry"]
    assert body["next"]


def test_patch_marks_done_and_an_item_of_another_record_is_404(api, owner, mi, item):
    response = api.as_user(owner).patch(url(mi, f"action-items/{item.pk}/"), {"done": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True and response.json()["done_at"]
    elsewhere = MajorIncidentFactory(state="in_review")
    assert api.patch(url(elsewhere, f"action-items/{item.pk}/"), {"done": False}, format="json").status_code == 404
    assert api.patch(url(mi, "action-items/999999/"), {"done": False}, format="json").status_code == 404
    assert ActionItem.objects.get(pk=item.pk).done is True


def test_patch_names_bad_fields(api, manager, mi, item):
    response = api.as_user(manager).patch(
        url(mi, f"action-items/{item.pk}/"), {"title": "", "owner": 0, "id": 3}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title", "owner", "id"}


# --- export -------------------------------------------------------------------------------------
def test_export_answers_markdown(api, reader, mi, item):
    response = api.as_user(reader).get(url(mi, "export/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'inline; filename="{mi.number}-review.md"'
    text = response.content.decode()
    assert text.startswith(f"# Post-incident review: {mi.number}")
    assert "| 1 | Alert on expiry | Olga Owner | 2030-04-01 | no |" in text


def test_export_errors_stay_json(api, reader, mi):
    missing = api.as_user(reader).get("/api/v1/major-incidents/MIM9999999/review/export/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["type"] == "not_found"
    refused = api.get(url(mi, "export/"), HTTP_ACCEPT="application/json")
    assert refused.status_code == 406 and refused.json()["type"] == "not_acceptable"
    api.credentials()
    anonymous = api.get(url(mi, "export/"))
    assert anonymous.status_code == 401 and anonymous.json()["type"] == "not_authenticated"


def test_reading_the_review_costs_the_same_with_many_items(api, reader, mi, django_assert_max_num_queries):
    review = PostIncidentReview.objects.create(major_incident=mi)
    ActionItem.objects.bulk_create(ActionItem(review=review, title=f"t{i}") for i in range(50))
    api.as_user(reader).get(url(mi))  # the token is cached after the first request
    with django_assert_max_num_queries(5):
        response = api.get(url(mi))
    assert len(response.json()["action_items"]) == 50


# --- permission matrix --------------------------------------------------------------------------
WRITERS = ["mim", "administrator", "manager", "comms_lead", "tech_lead"]
OTHERS = ["agent", "reader", "owner"]


def _call(api, mi, item, operation):
    if operation == "get_review":
        return api.get(url(mi))
    if operation == "put_review":
        return api.put(url(mi), SECTIONS, format="json")
    if operation == "list_items":
        return api.get(url(mi, "action-items/"))
    if operation == "add_item":
        return api.post(url(mi, "action-items/"), {"title": "New"}, format="json")
    if operation == "rename_item":
        return api.patch(url(mi, f"action-items/{item.pk}/"), {"title": "Renamed"}, format="json")
    if operation == "mark_done":
        return api.patch(url(mi, f"action-items/{item.pk}/"), {"done": True}, format="json")
    if operation == "export":
        return api.get(url(mi, "export/"))
    raise AssertionError(operation)


EXPECTED = {
    # operation: (status for WRITERS, {other role: status})
    "get_review": (200, {"agent": 200, "reader": 200, "owner": 200}),
    "list_items": (200, {"agent": 200, "reader": 200, "owner": 200}),
    "export": (200, {"agent": 200, "reader": 200, "owner": 200}),
    "put_review": (200, {"agent": 403, "reader": 403, "owner": 403}),
    "add_item": (201, {"agent": 403, "reader": 403, "owner": 403}),
    "rename_item": (200, {"agent": 403, "reader": 403, "owner": 403}),
    "mark_done": (200, {"agent": 403, "reader": 403, "owner": 200}),
}


@pytest.mark.parametrize("operation", list(EXPECTED))
@pytest.mark.parametrize("who", WRITERS + OTHERS)
def test_permission_matrix(api, request, mi, item, who, operation):
    user = request.getfixturevalue(who)
    for_writers, for_others = EXPECTED[operation]
    expected = for_writers if who in WRITERS else for_others[who]
    events_before = MajorIncidentEvent.objects.filter(major_incident=mi).count()
    response = _call(api.as_user(user), mi, item, operation)
    assert response.status_code == expected, (who, operation, response.content[:300])
    if expected == 403:
        assert response.json()["type"] == "permission_denied" and response.json()["detail"]
        assert MajorIncidentEvent.objects.filter(major_incident=mi).count() == events_before
        assert ActionItem.objects.get(pk=item.pk).title == "Alert on expiry" and ActionItem.objects.count() == 1


@pytest.mark.parametrize("operation", list(EXPECTED))
def test_anonymous_is_401_everywhere(api, mi, item, operation):
    assert _call(api, mi, item, operation).status_code == 401
