"""/api/v1/problems/{id}/transitions/: what the user may run, each transition through the API, 400
naming the missing field with nothing written, 409 from the wrong state, 404 for an unknown name,
If-Match, and resolve_linked / duplicate_of reaching the incidents."""

import pytest

from problems.models import KnownError, Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/problems/"


def run(client, problem, name, body=None, **headers):
    return client.post(f"{URL}{problem.pk}/transitions/{name}/", body or {}, format="json", **headers)


def test_available_transitions_with_their_fields(api, manager, agent):
    problem = ProblemFactory()
    rows = api.as_user(manager).get(f"{URL}{problem.pk}/transitions/").json()
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"investigate", "cancel"}
    assert by_name["investigate"]["required_fields"] == ["owner"]
    assert by_name["cancel"] == {
        "name": "cancel",
        "label": "Cancel",
        "required_fields": ["reason"],
        "optional_fields": ["duplicate_of"],
        "url": f"http://testserver{URL}{problem.pk}/transitions/cancel/",
    }
    assert api.as_user(agent).get(f"{URL}{problem.pk}/transitions/").json() == []


def test_the_whole_life_through_the_api(api, manager):
    client = api.as_user(manager)
    problem = ProblemFactory()
    steps = [
        ("investigate", {"owner": manager.pk}, "investigating"),
        ("mark_known_error", {"root_cause": "Pool leak.", "workaround": "Recycle the pool."}, "known_error"),
        ("resolve", {"fix": "Leak fixed.", "fix_reference": "CHG0000042"}, "resolved"),
        ("close", {"lessons_learned": "Watch pool size."}, "closed"),
    ]
    for name, body, state in steps:
        response = run(client, problem, name, body)
        assert response.status_code == 200, response.json()
        assert response.json()["state"] == state
        assert response["ETag"] == f'"v{Problem.objects.get(pk=problem.pk).version}"'
    data = response.json()
    assert data["known_error"] == KnownError.objects.get(problem=problem).pk
    assert (data["owner"], data["fix_reference"], data["lessons_learned"]) == (
        manager.pk,
        "CHG0000042",
        "Watch pool size.",
    )
    assert data["closed_at"] and data["available_transitions"] == []
    names = list(ProblemEvent.objects.filter(problem=problem, type="transition").values_list("data__name", flat=True))
    assert names == [name for name, _, _ in steps]


def test_a_field_set_by_patch_before_satisfies_the_transition(api, manager):
    client = api.as_user(manager)
    problem = ProblemFactory(state="investigating", owner=manager)
    client.patch(f"{URL}{problem.pk}/", {"workaround": "Use the web client."}, format="json")
    response = run(client, problem, "mark_known_error")
    assert response.status_code == 200 and response.json()["state"] == "known_error"


@pytest.mark.parametrize(
    ("state", "name", "missing"),
    [
        ("new", "investigate", {"owner"}),
        ("investigating", "mark_known_error", {"root_cause", "workaround"}),
        ("investigating", "resolve", {"fix"}),
        ("resolved", "close", {"lessons_learned"}),
        ("new", "cancel", {"reason"}),
    ],
)
def test_a_missing_field_is_400_naming_it_and_nothing_is_written(api, manager, state, name, missing):
    problem = ProblemFactory(state=state, owner=manager if state != "new" else None)
    Problem.objects.filter(pk=problem.pk).update(root_cause="", workaround="", fix="", lessons_learned="")
    before = (Problem.objects.get(pk=problem.pk).version, ProblemEvent.objects.count())
    response = run(api.as_user(manager), problem, name)
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) == missing
    after = Problem.objects.get(pk=problem.pk)
    assert (after.version, ProblemEvent.objects.count()) == before and after.state == state


def test_bad_values_are_400_and_write_nothing(api, manager, agent):
    problem = ProblemFactory()
    client = api.as_user(manager)
    response = run(client, problem, "investigate", {"owner": agent.pk})  # an agent may not own problems
    assert response.status_code == 400 and set(response.json()["errors"]) == {"owner"}
    wrong = run(client, problem, "investigate", {"owner": manager.pk, "fix": "x"})
    assert wrong.status_code == 400 and set(wrong.json()["errors"]) == {"fix"}
    itself = run(client, problem, "cancel", {"reason": "Dup.", "duplicate_of": problem.number})
    assert itself.status_code == 400 and set(itself.json()["errors"]) == {"duplicate_of"}
    closed = ProblemFactory(state="closed", owner=manager)
    at_closed = run(client, problem, "cancel", {"reason": "Dup.", "duplicate_of": closed.pk})
    assert at_closed.status_code == 400 and set(at_closed.json()["errors"]) == {"duplicate_of"}
    assert Problem.objects.get(pk=problem.pk).state == "new"


def test_wrong_state_is_409_and_unknown_name_404(api, manager):
    problem = ProblemFactory()
    client = api.as_user(manager)
    response = run(client, problem, "close", {"lessons_learned": "x"})
    assert response.status_code == 409
    assert response.json()["type"] == "invalid_transition"
    assert response.json()["current_state"] == "new"
    assert run(client, problem, "reopen").status_code == 404
    assert Problem.objects.get(pk=problem.pk).lessons_learned == ""


def test_stale_if_match_is_412(api, manager):
    problem = ProblemFactory()
    client = api.as_user(manager)
    etag = client.get(f"{URL}{problem.pk}/")["ETag"]
    client.patch(f"{URL}{problem.pk}/", {"title": "Changed"}, format="json")
    response = run(client, problem, "investigate", {"owner": manager.pk}, HTTP_IF_MATCH=etag)
    assert response.status_code == 412
    assert Problem.objects.get(pk=problem.pk).state == "new"
    fresh = client.get(f"{URL}{problem.pk}/")["ETag"]
    assert run(client, problem, "investigate", {"owner": manager.pk}, HTTP_IF_MATCH=fresh).status_code == 200


def test_resolve_linked_resolves_the_open_incidents(api, manager, service):
    client = api.as_user(manager)
    problem = ProblemFactory(state="known_error", owner=manager, service=service)
    incidents = [IncidentFactory(service=service), IncidentFactory(service=service, state="in_progress")]
    client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [i.pk for i in incidents]}, format="json")
    response = run(client, problem, "resolve", {"fix": "Patched.", "resolve_linked": True})
    assert response.status_code == 200, response.json()
    for incident in incidents:
        incident.refresh_from_db()
        assert (incident.state, incident.resolution_code) == ("resolved", "resolved_by_problem")


def test_cancel_as_duplicate_moves_the_links(api, manager):
    client = api.as_user(manager)
    survivor, duplicate = ProblemFactory(), ProblemFactory()
    incident = IncidentFactory()
    client.post(f"{URL}{duplicate.pk}/incidents/", {"incidents": [incident.pk]}, format="json")
    response = run(client, duplicate, "cancel", {"reason": "Same as the other.", "duplicate_of": survivor.number})
    assert response.status_code == 200, response.json()
    assert response.json()["duplicate_of"] == survivor.pk and response.json()["cancel_reason"] == "Same as the other."
    assert client.get(f"{URL}{survivor.pk}/").json()["incidents"] == [incident.pk]
