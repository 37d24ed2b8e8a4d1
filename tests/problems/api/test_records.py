"""/api/v1/problems/: create (Idempotency-Key, linking at once), list (filters, ordering, cursor
pages, a query count that does not grow with the rows), detail by id or number (ETag), PATCH
(If-Match, read-only state) and the timeline."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from problems.models import Problem, ProblemEvent
from tests.factories import CategoryFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/problems/"
FIELDS = {
    # API.md "problem"
    "id",
    "number",
    "title",
    "description",
    "state",
    "service",
    "category",
    "impact",
    "urgency",
    "priority",
    "assignment_group",
    "owner",
    "source",
    "root_cause",
    "workaround",
    "fix",
    "lessons_learned",
    "incidents",
    # the record's own
    "rca_method",
    "rca_notes",
    "contributing_factors",
    "fix_reference",
    "cancel_reason",
    "duplicate_of",
    "major_incidents",
    "known_error",
    "recurrence_count",
    "incident_count",
    "opened_at",
    "investigating_at",
    "known_error_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
    "updated_at",
    "available_transitions",
    "links",
}


def test_create_answers_201_with_location_and_the_representation(api, agent, service, group):
    category = CategoryFactory()
    body = {
        "title": "VPN drops every hour",
        "description": "Tunnels end at :00.",
        "service": service.slug,
        "category": category.pk,
        "impact": 1,
        "urgency": 2,
        "rca_method": "five_whys",
        "rca_notes": {"whys": [{"why": "Tunnel ends", "answer": "Rekey fails"}]},
        "contributing_factors": ["No alert on rekey failures"],
    }
    response = api.as_user(agent).post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert set(data) == FIELDS
    problem = Problem.objects.get()
    assert response["Location"] == data["links"]["self"] == f"http://testserver{URL}{problem.pk}/"
    assert response["ETag"] == f'"v{problem.version}"'
    assert data["number"] == problem.number and data["number"].startswith("PRB")
    assert (data["state"], data["source"], data["service"], data["category"]) == (
        "new",
        "manual",
        service.slug,
        category.pk,
    )
    assert data["priority"] == problem.priority
    assert data["assignment_group"] == group.pk  # the service's owner group
    assert data["rca_notes"] == body["rca_notes"] and data["contributing_factors"] == body["contributing_factors"]
    assert (data["incidents"], data["major_incidents"], data["known_error"], data["incident_count"]) == (
        [],
        [],
        None,
        0,
    )
    assert set(data["links"]) == {"self", "timeline", "incidents", "major_incidents", "transitions"}


def test_create_links_incidents_at_once_and_refuses_one_of_another_open_problem(api, agent, service):
    free, held = IncidentFactory(service=service), IncidentFactory(service=service)
    other = ProblemFactory()
    api.as_user(agent).post(f"{URL}{other.pk}/incidents/", {"incidents": [held.pk]}, format="json")
    refused = api.post(URL, {"title": "T", "source": "reactive", "incidents": [free.number, held.pk]}, format="json")
    assert refused.status_code == 409
    assert other.number in refused.json()["detail"]
    assert Problem.objects.count() == 1  # nothing written
    moved = api.post(URL, {"title": "T", "source": "reactive", "incidents": [free.number, held.pk], "move": True})
    assert moved.status_code == 201
    assert sorted(moved.json()["incidents"]) == sorted([free.pk, held.pk])
    assert moved.json()["source"] == "reactive"


def test_create_refuses_bad_fields_naming_each(api, agent):
    response = api.as_user(agent).post(
        URL, {"title": "", "impact": 7, "state": "closed", "source": "proactive", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert {"title", "impact", "state", "source", "colour"} <= set(response.json()["errors"])
    unknown = api.post(URL, {"title": "T", "owner": 999_999, "category": 999_999}, format="json")
    assert unknown.status_code == 400
    assert {"owner", "category"} <= set(unknown.json()["errors"])
    assert set(api.post(URL, {"title": "T", "service": "nope"}, format="json").json()["errors"]) == {"service"}
    assert not Problem.objects.exists()


def test_create_replays_with_the_same_idempotency_key(api, agent):
    client = api.as_user(agent)
    first = client.post(URL, {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post(URL, {"title": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again["Location"] == first["Location"]
    assert Problem.objects.count() == 1
    other_body = client.post(URL, {"title": "Twice"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other_body.status_code == 409


def test_list_filters(api, agent, manager, service):
    other_service = ServiceFactory()
    category = CategoryFactory()
    a = ProblemFactory(title="Mail queue stalls", service=service, category=category, impact=1, urgency=1)
    b = ProblemFactory(title="Printer offline", service=other_service, state="known_error", owner=manager)
    c = ProblemFactory(title="Disk fills", description="Mail logs grow", source="proactive")
    client = api.as_user(agent)

    def ids(query: str) -> list[int]:
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids("") == [c.pk, b.pk, a.pk]
    assert ids("state=new") == [c.pk, a.pk]
    assert ids("state=known_error,new") == [c.pk, b.pk, a.pk]
    assert ids(f"priority={a.priority}") == [a.pk]
    assert ids(f"service={service.slug}") == [a.pk]
    assert ids(f"category={category.pk}") == [a.pk]
    assert ids(f"owner={manager.pk}") == [b.pk]
    assert ids("source=proactive") == [c.pk]
    assert ids("has_workaround=true") == [b.pk]
    assert ids("has_workaround=false") == [c.pk, a.pk]
    assert ids("q=mail") == [c.pk, a.pk]
    assert ids(f"q={a.number}") == [a.pk]
    assert ids(f"q={int(b.number[3:])}") == [b.pk]
    assert ids("ordering=number") == [a.pk, b.pk, c.pk]
    if a.assignment_group_id:
        assert ids(f"assignment_group={a.assignment_group_id}") == [a.pk]
    for query, field in [
        ("state=bogus", "state"),
        ("service=nope", "service"),
        ("ordering=colour", "ordering"),
        ("has_workaround=2", "has_workaround"),
        ("owner=x", "owner"),
    ]:
        bad = client.get(f"{URL}?{query}")
        assert bad.status_code == 400 and field in bad.json()["errors"], query


def test_opened_after_is_inclusive_and_opened_before_exclusive(api, agent):
    old, new = ProblemFactory(), ProblemFactory()
    moment = timezone.now() - timedelta(days=1)
    Problem.objects.filter(pk=old.pk).update(opened_at=moment - timedelta(days=1))
    Problem.objects.filter(pk=new.pk).update(opened_at=moment)
    client = api.as_user(agent)
    stamp = moment.isoformat().replace("+00:00", "Z")
    assert [r["id"] for r in client.get(URL, {"opened_after": stamp}).json()["results"]] == [new.pk]
    assert [r["id"] for r in client.get(URL, {"opened_before": stamp}).json()["results"]] == [old.pk]


def test_list_pages_with_cursors(api, agent):
    made = [ProblemFactory().pk for _ in range(5)]
    client = api.as_user(agent)
    first = client.get(URL, {"page_size": 2}).json()
    assert [r["id"] for r in first["results"]] == made[::-1][:2] and first["previous"] is None
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == made[::-1][2:4]


def test_list_query_count_does_not_grow_with_rows(api, agent, manager, service):
    client = api.as_user(agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    problem = ProblemFactory(service=service, state="known_error", owner=manager)
    client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [IncidentFactory().pk]}, format="json")
    one = count()
    for _ in range(4):
        other = ProblemFactory(service=ServiceFactory(), state="known_error", owner=manager)
        incidents = [IncidentFactory().pk for _ in range(3)]
        client.post(f"{URL}{other.pk}/incidents/", {"incidents": incidents}, format="json")
    assert count() == one
    assert one == 5  # token, roles, the page, its incident ids, its major incident ids


def test_detail_by_id_or_number_with_etag(api, agent):
    problem = ProblemFactory()
    client = api.as_user(agent)
    by_id = client.get(f"{URL}{problem.pk}/")
    by_number = client.get(f"{URL}{problem.number.lower()}/")
    assert by_id.status_code == by_number.status_code == 200
    assert by_id.json() == by_number.json()
    assert by_id["ETag"] == f'"v{problem.version}"'
    assert client.get(f"{URL}PRB9999999/").status_code == 404
    assert client.get(f"{URL}99999999999999999999999/").status_code == 404


def test_patch_changes_fields_and_refuses_the_state(api, agent, service):
    problem = ProblemFactory()
    client = api.as_user(agent)
    response = client.patch(
        f"{URL}{problem.pk}/",
        {"workaround": "Restart the agent.", "service": service.slug, "urgency": 1},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["workaround"], response.json()["service"]) == ("Restart the agent.", service.slug)
    problem.refresh_from_db()
    assert response["ETag"] == f'"v{problem.version}"'
    assert ProblemEvent.objects.filter(problem=problem, type="field_changed", data__field="workaround").exists()
    refused = client.patch(f"{URL}{problem.pk}/", {"state": "closed", "title": "New"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"]["state"] == ["This field is read-only."]
    problem.refresh_from_db()
    assert problem.title != "New"


def test_patch_with_a_stale_if_match_is_412_and_writes_nothing(api, agent):
    problem = ProblemFactory()
    client = api.as_user(agent)
    etag = client.get(f"{URL}{problem.pk}/")["ETag"]
    assert client.patch(f"{URL}{problem.pk}/", {"title": "One"}, format="json", HTTP_IF_MATCH=etag).status_code == 200
    stale = client.patch(f"{URL}{problem.pk}/", {"title": "Two"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    assert stale.json()["type"] == "precondition_failed"
    problem.refresh_from_db()
    assert problem.title == "One"


def test_patch_of_a_closed_problem_is_409(api, manager):
    problem = ProblemFactory(state="closed", owner=manager)
    response = api.as_user(manager).patch(f"{URL}{problem.pk}/", {"title": "Again"}, format="json")
    assert response.status_code == 409


def test_timeline_lists_events_oldest_first_in_cursor_pages(api, agent):
    problem = ProblemFactory()
    client = api.as_user(agent)
    for title in ("a", "b", "c"):
        client.patch(f"{URL}{problem.pk}/", {"title": title}, format="json")
    first = client.get(f"{URL}{problem.pk}/timeline/", {"page_size": 2}).json()
    assert [e["type"] for e in first["results"]] == ["created", "field_changed"]
    assert set(first["results"][0]) == {"id", "type", "actor", "at", "data"}
    rest = client.get(first["next"]).json()["results"]
    assert [e["data"]["new"] for e in rest] == ["b", "c"]


def test_patch_validates_rca_notes_against_the_method(api, agent):
    problem = ProblemFactory()
    client = api.as_user(agent)
    bad = client.patch(f"{URL}{problem.number}/", {"rca_method": "fishbone", "rca_notes": {"whys": []}}, format="json")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"rca_notes"}
    not_an_object = client.patch(f"{URL}{problem.pk}/", {"rca_notes": [1, 2]}, format="json")
    assert not_an_object.status_code == 400 and "rca_notes" in not_an_object.json()["errors"]
    good = {"rca_method": "fishbone", "rca_notes": {"causes": {"technology": ["Firmware bug"]}}}
    response = client.patch(f"{URL}{problem.pk}/", good, format="json")
    assert response.status_code == 200 and response.json()["rca_notes"] == good["rca_notes"]
