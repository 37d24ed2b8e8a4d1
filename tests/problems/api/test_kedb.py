"""/api/v1/known-errors/ (ranked search, filters, retired archive, one article) and the incident's
/known-errors/ (suggestions, same service first) and /known-errors/{id}/apply/ (a use; 409 twice)."""

import pytest

from problems import lifecycle
from problems.models import KnownError, KnownErrorUse, ProblemSettings
from tests.factories import CategoryFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/known-errors/"
ROW = {
    # API.md "known error"
    "id",
    "problem",
    "title",
    "symptoms",
    "root_cause",
    "workaround",
    "services",
    "score",
    "uses",
    "deflections",
    # the article's own
    "categories",
    "state",
    "published_at",
    "problem_number",
}


def known_error(manager, title, description="", service=None, category=None, workaround="Reconnect."):
    problem = ProblemFactory(
        title=title, description=description, service=service, category=category, state="investigating", owner=manager
    )
    lifecycle.run_transition(problem, "mark_known_error", actor=manager, payload={"workaround": workaround})
    return KnownError.objects.get(problem=problem)


def test_search_ranks_by_score(api, agent, manager, service):
    in_title = known_error(manager, "VPN tunnel drops every hour", "Sessions end.", service=service)
    in_symptoms = known_error(manager, "Gateway firmware fault", "The VPN tunnel disconnects.")
    known_error(manager, "Printer offline", "Paper jam.")
    response = api.as_user(agent).get(URL, {"q": "vpn tunnel"})
    assert response.status_code == 200, response.json()
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [in_title.pk, in_symptoms.pk]
    assert rows[0]["score"] > rows[1]["score"] > 0
    assert set(rows[0]) == ROW
    assert rows[0]["services"] == [service.slug]
    assert rows[0]["problem"] == in_title.problem_id and rows[0]["problem_number"] == in_title.problem.number
    assert (rows[0]["state"], rows[0]["uses"], rows[0]["deflections"]) == ("published", 0, 0)
    assert response.json()["count"] == 2


def test_search_filters_by_service_and_category(api, agent, manager, service):
    other = ServiceFactory()
    category = CategoryFactory()
    mine = known_error(manager, "Mail delayed", service=service, category=category)
    theirs = known_error(manager, "Mail delayed on the relay", service=other)
    client = api.as_user(agent)
    assert [r["id"] for r in client.get(URL, {"q": "mail", "service": service.slug}).json()["results"]] == [mine.pk]
    both = client.get(URL, {"q": "mail", "service": f"{service.slug},{other.slug}"}).json()["results"]
    assert {r["id"] for r in both} == {mine.pk, theirs.pk}
    assert [r["id"] for r in client.get(URL, {"category": category.pk}).json()["results"]] == [mine.pk]
    assert client.get(URL, {"service": "nope"}).status_code == 400
    assert client.get(URL, {"state": "bogus"}).status_code == 400


def test_retired_ones_are_left_out_unless_asked(api, agent, manager):
    article = known_error(manager, "Disk fills on the log server")
    problem = article.problem
    for name, body in (("resolve", {"fix": "Rotation fixed."}), ("close", {"lessons_learned": "Alert on disk."})):
        lifecycle.run_transition(problem, name, actor=manager, payload=body)
    live = known_error(manager, "Disk latency on the database")
    client = api.as_user(agent)
    assert [r["id"] for r in client.get(URL, {"q": "disk"}).json()["results"]] == [live.pk]
    retired = client.get(URL, {"q": "disk", "state": "retired"}).json()["results"]
    assert [(r["id"], r["state"]) for r in retired] == [(article.pk, "retired")]


def test_one_article(api, agent, manager):
    article = known_error(manager, "Wi-Fi drops")
    client = api.as_user(agent)
    response = client.get(f"{URL}{article.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == article.pk and response.json()["score"] is None
    assert client.get(f"{URL}999999/").status_code == 404


def test_incident_suggestions_same_service_first(api, agent, manager, service):
    other = ServiceFactory()
    elsewhere = known_error(manager, "Outlook crashes when opening calendar attachments", service=other)
    here = known_error(manager, "Outlook calendar sync stalls", service=service)
    known_error(manager, "Printer offline")
    incident = IncidentFactory(title="Outlook crashes opening calendar", service=service)
    client = api.as_user(agent)
    for ref in (incident.pk, incident.number):
        response = client.get(f"/api/v1/incidents/{ref}/known-errors/")
        assert response.status_code == 200, response.json()
        rows = response.json()
        assert [r["id"] for r in rows] == [here.pk, elsewhere.pk]
        assert [r["same_service"] for r in rows] == [True, False]
        assert all(r["score"] > 0 for r in rows)
    settings = ProblemSettings.current()
    settings.suggestion_limit = 1
    settings.save()
    assert len(client.get(f"/api/v1/incidents/{incident.pk}/known-errors/").json()) == 1
    assert client.get("/api/v1/incidents/INC9999999/known-errors/").status_code == 404


def test_apply_a_workaround(api, agent, manager, service):
    article = known_error(manager, "Wi-Fi drops on floor 3", service=service, workaround="Forget the network.")
    incident = IncidentFactory(title="Wi-Fi keeps dropping", service=service)
    client = api.as_user(manager)
    url = f"/api/v1/incidents/{incident.number}/known-errors/{article.pk}/apply/"
    response = client.post(url, {"resolve": False}, format="json")
    assert response.status_code == 201, response.json()
    use = KnownErrorUse.objects.get()
    assert response.json() == {
        "id": use.pk,
        "known_error": article.pk,
        "incident": incident.pk,
        "kind": "applied",
        "actor": manager.pk,
        "at": response.json()["at"],
        "deflected": False,
    }
    assert incident.timeline.filter(type="workaround_applied").exists()
    again = client.post(url, {}, format="json")
    assert again.status_code == 409
    assert KnownErrorUse.objects.count() == 1
    assert client.post(f"/api/v1/incidents/{incident.pk}/known-errors/999999/apply/", {}).status_code == 404


def test_apply_with_resolve_deflects(api, manager, service):
    article = known_error(manager, "Printer queue stuck", service=service)
    incident = IncidentFactory(title="Printer queue stuck again", service=service, state="in_progress")
    client = api.as_user(manager)
    response = client.post(
        f"/api/v1/incidents/{incident.pk}/known-errors/{article.pk}/apply/", {"resolve": True}, format="json"
    )
    assert response.status_code == 201, response.json()
    incident.refresh_from_db()
    article.refresh_from_db()
    assert (incident.state, incident.resolution_code) == ("resolved", "workaround")
    assert (article.uses, article.deflections) == (1, 1)


def test_incident_known_error_paths_reach_the_problems_views():
    # The incident routes are included first (itsm.urls); none of them may swallow these paths.
    from django.urls import resolve

    from problems.api import kedb

    assert resolve("/api/v1/incidents/INC0000001/known-errors/").func.view_class is kedb.IncidentKnownErrorsView
    assert resolve("/api/v1/incidents/7/known-errors/3/apply/").func.view_class is kedb.ApplyWorkaroundView


def test_apply_replays_with_the_same_idempotency_key(api, manager, service):
    article = known_error(manager, "Badge reader rejects cards", service=service)
    incident = IncidentFactory(title="Badge reader rejects my card", service=service)
    client = api.as_user(manager)
    url = f"/api/v1/incidents/{incident.pk}/known-errors/{article.pk}/apply/"
    first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="apply-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert KnownErrorUse.objects.count() == 1
