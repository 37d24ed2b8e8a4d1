"""Trigger rule API: administrators write, MIMs read, stats and firings; bad input 400 writing nothing."""

import pytest

from incidents.major import lifecycle
from incidents.major.models import MajorIncident
from incidents.response.models import TriggerFiring, TriggerRule
from itsm import roles
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/trigger-rules/"
P1 = [{"field": "priority", "op": "eq", "value": 1}]


@pytest.fixture
def mim(make_user):
    return make_user(roles.MAJOR_INCIDENT_MANAGER)


def test_administrator_creates_and_changes_a_rule(api, administrator):
    api.as_user(administrator)
    response = api.post(
        URL,
        {"name": "Storm", "conditions": [], "count_threshold": 5, "window_minutes": 10, "action": "propose"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["active"] is False and body["fired"] == 0 and body["accepted"] == 0
    rule = TriggerRule.objects.get()
    assert (rule.count_threshold, rule.window_minutes) == (5, 10)

    response = api.patch(f"{URL}{rule.pk}/", {"active": True, "conditions": P1}, format="json")
    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert rule.active and rule.conditions == P1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"conditions": [{"field": "colour", "op": "eq", "value": 1}]}, "conditions", "unknown field 'colour'"),
        ({"conditions": [{"field": "priority", "op": "like", "value": 1}]}, "conditions", "unknown operator 'like'"),
        ({"conditions": [{"field": "priority", "op": "in", "value": 1}]}, "conditions", "takes a list"),
        ({"count_threshold": 3}, "window_minutes", "needs a window"),
        ({"window_minutes": 3}, "count_threshold", "needs a window"),
        ({"colour": "red"}, "colour", "Unknown field"),
    ],
)
def test_bad_rules_are_400_and_write_nothing(api, administrator, body, field, words):
    response = api.as_user(administrator).post(URL, {"name": "Bad", **body}, format="json")
    assert response.status_code == 400, response.json()
    errors = {k: v for k, v in response.json()["errors"].items() if k.split(".")[0] == field}
    assert errors and words.lower() in str(errors).lower()
    assert not TriggerRule.objects.exists()


def test_a_bad_patch_writes_nothing(api, administrator):
    rule = TriggerRule.objects.create(name="r", conditions=P1)
    response = api.as_user(administrator).patch(
        f"{URL}{rule.pk}/", {"active": True, "count_threshold": 4}, format="json"
    )
    assert response.status_code == 400
    rule.refresh_from_db()
    assert not rule.active and rule.count_threshold is None


def test_mims_read_but_do_not_write_and_agents_do_not_read(api, mim, make_user):
    TriggerRule.objects.create(name="r", conditions=P1)
    api.as_user(mim)
    assert api.get(URL).status_code == 200
    assert api.post(URL, {"name": "x"}, format="json").status_code == 403
    api.as_user(make_user(roles.SERVICE_DESK_AGENT))
    assert api.get(URL).status_code == 403
    assert TriggerRule.objects.count() == 1


def test_stats_and_firings(api, administrator, mim, group, django_capture_on_commit_callbacks):
    rule = TriggerRule.objects.create(name="any P1", conditions=P1, active=True)
    service = ServiceFactory(owner_group=group)
    with django_capture_on_commit_callbacks(execute=True):
        first = IncidentFactory(impact=1, urgency=1, service=service)
        second = IncidentFactory(impact=1, urgency=1, service=service)
    lifecycle.run_transition(MajorIncident.objects.get(incident=first), "declare", actor=mim)
    lifecycle.run_transition(MajorIncident.objects.get(incident=second), "reject", actor=mim, payload={"reason": "No"})

    api.as_user(mim)
    body = api.get(f"{URL}{rule.pk}/").json()
    assert {k: body[k] for k in ("fired", "proposed", "accepted", "rejected", "pending")} == {
        "fired": 2,
        "proposed": 2,
        "accepted": 1,
        "rejected": 1,
        "pending": 0,
    }
    firings = api.get(f"{URL}{rule.pk}/firings/").json()["results"]
    assert [f["incident"]["number"] for f in firings] == [second.number, first.number]
    assert firings[0]["decision"] == "proposed" and firings[0]["major_incident"]["number"].startswith("MIM")
    assert api.get(f"{URL}{rule.pk}/firings/?decision=nonsense").status_code == 400
    assert TriggerFiring.objects.count() == 2
