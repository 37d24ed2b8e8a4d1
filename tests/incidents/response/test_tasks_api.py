"""The task API on incidents and major incidents: list (filters, pagination, pinned queries),
add (201, Idempotency-Key, 400/403/404), PATCH (ETag / If-Match 412), transitions (409), and
the blocking-task guard on a major incident's resolve."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.major.models import MajorIncident
from incidents.models import TimelineEvent
from incidents.response.models import Task
from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory
from tests.incidents.response.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(agent, group):
    return IncidentFactory(assignment_group=group)


def _base(record) -> str:
    kind = "major-incidents" if isinstance(record, MajorIncident) else "incidents"
    return f"/api/v1/{kind}/{record.pk}/tasks/"


def test_list_by_id_and_by_number_in_position_order(api, agent, incident):
    second = TaskFactory(incident=incident, position=2, title="Second")
    first = TaskFactory(incident=incident, position=1, title="First")
    TaskFactory(title="Another incident's")
    api.as_user(agent)
    for ref in (incident.pk, incident.number, incident.number.lower()):
        body = api.get(f"/api/v1/incidents/{ref}/tasks/").json()
        assert [t["id"] for t in body["results"]] == [first.pk, second.pk]
    row = body["results"][0]
    assert set(row) == {
        "id", "incident", "major_incident", "problem", "kind", "title", "description", "assignment_group",
        "assignee", "due_at", "blocking", "state", "position",
        "role", "source", "overdue", "available_transitions", "created_at", "updated_at", "started_at",
        "completed_at",
    }  # fmt: skip
    assert row["available_transitions"] == ["start", "complete", "cancel"] and row["overdue"] is False


def test_list_filters(api, agent, incident):
    mine = TaskFactory(incident=incident, assignee=agent, blocking=True)
    TaskFactory(incident=incident, state="done")
    api.as_user(agent)
    base = _base(incident)
    assert [t["id"] for t in api.get(base, {"assignee": agent.pk}).json()["results"]] == [mine.pk]
    assert [t["id"] for t in api.get(base, {"blocking": "true"}).json()["results"]] == [mine.pk]
    assert len(api.get(base, {"state": "open,in_progress"}).json()["results"]) == 1
    assert api.get(base, {"state": "bogus"}).status_code == 400


def test_list_query_count_is_pinned(api, agent, incident, django_assert_max_num_queries):
    for _ in range(3):
        TaskFactory(incident=incident)
    api.as_user(agent)
    api.get(_base(incident))  # warm caches (settings, content types)
    with django_assert_max_num_queries(8) as few:
        api.get(_base(incident))
    for _ in range(20):
        TaskFactory(incident=incident)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(_base(incident)).json()["results"]) == 23


def test_unknown_record_is_404(api, agent):
    api.as_user(agent)
    assert api.get("/api/v1/incidents/INC9999999/tasks/").status_code == 404
    assert api.get("/api/v1/major-incidents/99999/tasks/").status_code == 404
    assert api.get("/api/v1/incidents/²/tasks/").status_code == 404


def test_create_201_and_idempotent(api, agent, incident):
    api.as_user(agent)
    due = (timezone.now() + timedelta(hours=1)).isoformat()
    body = {"title": "Call the ISP", "due_at": due, "assignee": agent.pk}
    first = api.post(_base(incident), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201, first.json()
    assert first["ETag"] == '"v1"' and first.json()["state"] == "open"
    again = api.post(_base(incident), body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Task.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "x", "due_at": "2001-01-01T00:00:00Z"}, "due_at"),
        ({"title": "x", "assignee": 999999}, "assignee"),
        ({"title": "x", "state": "done"}, "state"),
        ({"title": "x", "blocking": "maybe"}, "blocking"),
    ],
)
def test_create_400_names_the_field_and_writes_nothing(api, agent, incident, body, field):
    api.as_user(agent)
    response = api.post(_base(incident), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Task.objects.exists()
    assert not TimelineEvent.objects.filter(incident=incident, type="task").exists()


def test_create_403_for_another_group(api, outsider, incident):
    response = api.as_user(outsider).post(_base(incident), {"title": "x"}, format="json")
    assert response.status_code == 403 and incident.number in response.json()["detail"]
    assert not Task.objects.exists()


def test_patch_with_etag_and_412(api, agent, incident):
    task = TaskFactory(incident=incident)
    api.as_user(agent)
    url = f"{_base(incident)}{task.pk}/"
    read = api.get(url)
    assert read["ETag"] == '"v1"'
    ok = api.patch(url, {"title": "Renamed", "blocking": True}, format="json", HTTP_IF_MATCH='"v1"')
    assert ok.status_code == 200 and ok.json()["title"] == "Renamed" and ok["ETag"] == '"v2"'
    stale = api.patch(url, {"title": "Again"}, format="json", HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412
    task.refresh_from_db()
    assert task.title == "Renamed"
    assert api.patch(url, {"bogus": 1}, format="json").status_code == 400


def test_task_of_another_record_is_404(api, agent, incident):
    other = TaskFactory()
    api.as_user(agent)
    assert api.get(f"{_base(incident)}{other.pk}/").status_code == 404
    assert api.patch(f"{_base(incident)}{other.pk}/", {"title": "x"}, format="json").status_code == 404
    assert api.post(f"{_base(incident)}{other.pk}/transitions/start/").status_code == 404


def test_transitions_and_409(api, agent, incident):
    task = TaskFactory(incident=incident)
    api.as_user(agent)
    base = f"{_base(incident)}{task.pk}/transitions/"
    started = api.post(f"{base}start/", HTTP_IF_MATCH='"v1"')
    assert started.status_code == 200 and started.json()["state"] == "in_progress"
    assert started.json()["available_transitions"] == ["complete", "cancel"]
    again = api.post(f"{base}start/")
    assert again.status_code == 409
    assert "in_progress" in again.json()["detail"] and "complete, cancel" in again.json()["detail"]
    assert api.post(f"{base}start/", HTTP_IF_MATCH='"v1"').status_code == 412
    assert api.post(f"{base}fly/").status_code == 400
    assert api.post(f"{base}complete/", {"reason": "x"}, format="json").status_code == 400
    cancelled = api.post(f"{base}cancel/", {"reason": "Not needed"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"


def test_major_incident_tasks_by_number_and_the_assignee_moves_their_own(api, mim, make_user, group):
    mi = MajorIncidentFactory(manager=mim)
    doer = make_user(roles.RESOLVER, groups=[group])
    api.as_user(mim)
    created = api.post(
        f"/api/v1/major-incidents/{mi.number}/tasks/", {"title": "Fail over", "assignee": doer.pk}, format="json"
    )
    assert created.status_code == 201
    task_id = created.json()["id"]
    api.as_user(doer)
    url = f"/api/v1/major-incidents/{mi.pk}/tasks/{task_id}/"
    assert api.patch(url, {"title": "x"}, format="json").status_code == 403
    done = api.post(f"/api/v1/major-incidents/{mi.pk}/tasks/{task_id}/transitions/complete/")
    assert done.status_code == 200 and done.json()["state"] == "done"


def test_a_stranger_may_not_move_a_major_incident_task(api, mim, make_user):
    mi = MajorIncidentFactory(manager=mim)
    task = TaskFactory(major_incident=mi)
    stranger = make_user(roles.RESOLVER)
    response = api.as_user(stranger).post(f"/api/v1/major-incidents/{mi.pk}/tasks/{task.pk}/transitions/start/")
    assert response.status_code == 403 and mi.number in response.json()["detail"]
    task.refresh_from_db()
    assert task.state == "open"


def test_resolve_is_409_naming_the_open_blocking_tasks(api, mim):
    mi = MajorIncidentFactory(manager=mim)
    held = TaskFactory(major_incident=mi, blocking=True, title="Fail over the database")
    TaskFactory(major_incident=mi, blocking=False, title="Not blocking")
    TaskFactory(major_incident=mi, blocking=True, state="done", title="Done already")
    api.as_user(mim)
    response = api.post(f"/api/v1/major-incidents/{mi.pk}/transitions/resolve/", {}, format="json")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "Fail over the database" in detail and str(held.pk) in detail
    assert "Not blocking" not in detail and "Done already" not in detail
    mi.refresh_from_db()
    assert mi.state == "active"
    Task.objects.filter(pk=held.pk).update(state="done")
    assert api.post(f"/api/v1/major-incidents/{mi.pk}/transitions/resolve/", {}, format="json").status_code == 200
