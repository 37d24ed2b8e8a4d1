"""The permission matrix of the problems API per role (DOMAIN.md section 9, `problems.policy`):
create, patch, transition, link and read; a refusal is a 403 saying why and writes nothing."""

import pytest

from itsm import roles
from problems.models import Problem, ProblemEvent
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/problems/"
WORKERS = {"create", "patch", "link", "read"}
MATRIX = {
    roles.SERVICE_DESK_AGENT: WORKERS,
    roles.RESOLVER: WORKERS,
    roles.MAJOR_INCIDENT_MANAGER: WORKERS,
    roles.PROBLEM_MANAGER: WORKERS | {"transition"},
    roles.ADMINISTRATOR: WORKERS | {"transition"},
    roles.INTEGRATION: WORKERS,
    roles.READ_ONLY: {"read"},
}
SUCCESS = {"create": 201, "patch": 200, "transition": 200, "link": 200, "read": 200}


def attempt(client, action: str, problem: Problem, incident_id: int, owner_id: int):
    if action == "create":
        return client.post(URL, {"title": "From the matrix"}, format="json")
    if action == "patch":
        return client.patch(f"{URL}{problem.pk}/", {"workaround": "Try again."}, format="json")
    if action == "transition":
        return client.post(f"{URL}{problem.pk}/transitions/investigate/", {"owner": owner_id}, format="json")
    if action == "link":
        return client.post(f"{URL}{problem.pk}/incidents/", {"incidents": [incident_id]}, format="json")
    return client.get(f"{URL}{problem.pk}/")


@pytest.mark.parametrize("role", list(MATRIX))
@pytest.mark.parametrize("action", list(SUCCESS))
def test_permission_matrix(api, make_user, manager, role, action):
    user = make_user(role)
    problem = ProblemFactory()
    incident = IncidentFactory()
    before = (Problem.objects.count(), ProblemEvent.objects.count())
    response = attempt(api.as_user(user), action, problem, incident.pk, manager.pk)
    if action in MATRIX[role]:
        assert response.status_code == SUCCESS[action], response.json()
    else:
        assert response.status_code == 403, response.json()
        assert response.json()["type"] == "permission_denied" and response.json()["detail"]
        assert (Problem.objects.count(), ProblemEvent.objects.count()) == before


def test_the_owner_transitions_whatever_their_role(api, manager):
    problem = ProblemFactory(state="investigating", owner=manager)
    response = api.as_user(manager).post(
        f"{URL}{problem.pk}/transitions/mark_known_error/", {"workaround": "Restart."}, format="json"
    )
    assert response.status_code == 200


def test_read_only_is_refused_every_write_with_the_reason(api, reader, manager):
    problem = ProblemFactory(state="known_error", owner=manager)
    incident = IncidentFactory()
    client = api.as_user(reader)
    known_error = problem.known_error.pk
    writes = [
        client.post(f"{URL}{problem.pk}/major-incidents/", {"major_incidents": [1]}, format="json"),
        client.delete(f"{URL}{problem.pk}/incidents/{incident.pk}/"),
        client.delete(f"{URL}{problem.pk}/major-incidents/1/"),
        client.post(f"{URL}{problem.pk}/transitions/cancel/", {"reason": "x"}, format="json"),
        client.post(f"/api/v1/incidents/{incident.pk}/known-errors/{known_error}/apply/", {}, format="json"),
    ]
    assert [r.status_code for r in writes] == [403] * len(writes)
    assert all(r.json()["detail"] for r in writes)
    reads = [
        client.get(URL),
        client.get(f"{URL}{problem.pk}/timeline/"),
        client.get(f"{URL}{problem.pk}/transitions/"),
        client.get(f"{URL}{problem.pk}/incidents/"),
        client.get(f"{URL}{problem.pk}/major-incidents/"),
        client.get("/api/v1/known-errors/"),
        client.get(f"/api/v1/known-errors/{known_error}/"),
        client.get(f"/api/v1/incidents/{incident.pk}/known-errors/"),
    ]
    assert [r.status_code for r in reads] == [200] * len(reads)


def test_every_endpoint_needs_authentication(api, manager):
    problem = ProblemFactory()
    incident = IncidentFactory()
    for path in (
        URL,
        f"{URL}{problem.pk}/",
        f"{URL}{problem.pk}/timeline/",
        f"{URL}{problem.pk}/transitions/",
        f"{URL}{problem.pk}/incidents/",
        f"{URL}{problem.pk}/major-incidents/",
        "/api/v1/known-errors/",
        f"/api/v1/incidents/{incident.pk}/known-errors/",
    ):
        assert api.get(path).status_code == 401, path
    assert api.post(URL, {"title": "x"}, format="json").status_code == 401
    assert api.post(f"/api/v1/incidents/{incident.pk}/known-errors/1/apply/", {}).status_code == 401
