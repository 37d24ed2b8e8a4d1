"""/api/v1/major-incidents/: create (propose or declare), list and filters, detail (ETag, If-Match),
PATCH, transitions (the state matrix), the merged timeline (JSON pages and Markdown), permissions
per role, and a detail whose query count does not grow with what hangs off the record."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.major import links
from incidents.major.models import (
    MajorIncident,
    MajorIncidentEvent,
    MajorIncidentSettings,
    PostIncidentReview,
    Responder,
    StakeholderUpdate,
)
from incidents.models import Incident, TimelineEvent
from itsm import roles
from tests.factories import ServiceFactory
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/major-incidents/"
FIELDS = {
    # API.md "major incident"
    "id",
    "number",
    "incident",
    "state",
    "title",
    "manager",
    "comms_lead",
    "tech_lead",
    "bridge_url",
    "chat_channel",
    "affected_services",
    "impact_summary",
    "customers_affected",
    "impact_started_at",
    "declared_at",
    "resolved_at",
    "closed_at",
    "update_cadence_minutes",
    "next_update_due_at",
    "estimated_cost",
    # "may also carry" and the record's own
    "detected_at",
    "mitigated_at",
    "response_effort_cost",
    "cadence_compliance",
    "available_transitions",
    "links",
    "linked_incident_count",
    "reason",
    "stakeholders",
}
STATES = ["proposed", "active", "resolved", "in_review", "closed", "rejected"]
ALLOWED = {
    ("proposed", "declare"): "active",
    ("proposed", "reject"): "rejected",
    ("active", "resolve"): "resolved",
    ("resolved", "start_review"): "in_review",
    ("in_review", "close"): "closed",
}
BODIES = {"reject": {"reason": "Not major after all."}}


@pytest.fixture
def integration(make_user):
    return make_user(roles.INTEGRATION)


@pytest.fixture
def incident(service):
    return IncidentFactory(title="Payments down", service=service, impact=1, urgency=1)


def stored():
    return (
        MajorIncident.objects.count(),
        MajorIncidentEvent.objects.count(),
        TimelineEvent.objects.count(),
        list(Incident.objects.order_by("id").values_list("id", "version", "major_incident_id")),
        list(MajorIncident.objects.order_by("id").values_list("id", "version", "state")),
    )


# --- create -------------------------------------------------------------------------------------
def test_an_agent_proposes(api, agent, incident, service):
    response = api.as_user(agent).post(URL, {"incident": incident.number, "reason": "All shops down."}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == FIELDS
    assert body["state"] == "proposed" and body["incident"] == incident.pk and body["title"] == "Payments down"
    assert body["affected_services"] == [service.slug] and body["update_cadence_minutes"] == 30
    assert body["estimated_cost"] == "0.00" and body["linked_incident_count"] == 1
    assert body["cadence_compliance"]["updates"] == 0 and body["available_transitions"] == []
    assert response["Location"] == body["links"]["self"] and response["ETag"] == '"v1"'
    assert api.get(f"/api/v1/incidents/{incident.pk}/").json()["major_incident"] == body["id"]


def test_create_is_idempotent(api, agent, incident):
    client = api.as_user(agent)
    body = {"incident": incident.pk, "reason": "r"}
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    assert MajorIncident.objects.count() == 1


def test_declaring_is_for_managers(api, agent, mim, incident):
    before = stored()
    refused = api.as_user(agent).post(URL, {"incident": incident.pk, "reason": "r", "declare": True}, format="json")
    assert refused.status_code == 403 and stored() == before
    declared = api.as_user(mim).post(URL, {"incident": incident.pk, "reason": "r", "declare": True}, format="json")
    assert declared.status_code == 201
    body = declared.json()
    assert (
        body["state"] == "active" and body["manager"] == mim.pk and body["declared_at"] and body["next_update_due_at"]
    )
    assert set(body["available_transitions"]) == {"resolve"}


@pytest.mark.parametrize(
    "body, bad",
    [
        ({"reason": "r"}, {"incident"}),
        ({"incident": 999999, "reason": "r"}, {"incident"}),
        ({"incident": "INC9999999", "reason": "r"}, {"incident"}),
        ({"incident": "{id}"}, {"reason"}),
        ({"incident": "{id}", "reason": ""}, {"reason"}),
        ({"incident": "{id}", "reason": "r", "state": "active", "colour": 1}, {"state", "colour"}),
        (
            {"incident": "{id}", "reason": "r", "manager": 999999, "affected_services": ["ghost"]},
            {"manager", "affected_services"},
        ),
        ({"incident": "{id}", "reason": "r", "update_cadence_minutes": 0}, {"update_cadence_minutes"}),
        ({"incident": "{id}", "reason": "r", "bridge_url": "nope"}, {"bridge_url"}),
    ],
)
def test_bad_creates_are_400_naming_fields(api, agent, incident, body, bad):
    body = {k: (incident.pk if v == "{id}" else v) for k, v in body.items()}
    before = stored()
    response = api.as_user(agent).post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) == bad
    assert stored() == before


def test_a_second_major_incident_is_409_naming_the_first(api, agent, incident):
    first = MajorIncidentFactory(incident=incident, state="active")
    response = api.as_user(agent).post(URL, {"incident": incident.pk, "reason": "r"}, format="json")
    assert response.status_code == 409 and first.number in response.json()["detail"]


# --- list and detail ----------------------------------------------------------------------------
def test_list_filters_and_cursor(api, reader, mim, service):
    shop = ServiceFactory(slug="shop")
    day = timezone.now() - timedelta(days=1)
    a = MajorIncidentFactory(state="active", title="Checkout down", manager=mim, declared_at=day)
    b = MajorIncidentFactory(state="resolved", affected_services=[shop], impact_summary="VPN flaps")
    c = MajorIncidentFactory(state="proposed")
    client = api.as_user(reader)

    def numbers(query):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"]]

    assert numbers("") == [c.number, b.number, a.number]
    assert numbers("state=active,resolved") == [b.number, a.number]
    assert numbers("service=shop") == [b.number]
    assert numbers(f"manager={mim.pk}") == [a.number]
    cut = (day + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert numbers(f"declared_before={cut}") == [a.number]
    assert numbers(f"declared_after={cut}") == [b.number]
    assert numbers("q=checkout") == [a.number]
    assert numbers("q=vpn") == [b.number]
    assert numbers(f"q={c.number}") == [c.number]
    first = client.get(f"{URL}?page_size=2").json()
    assert len(first["results"]) == 2 and "cursor=" in first["next"]
    assert [r["number"] for r in client.get(first["next"]).json()["results"]] == [a.number]
    for bad in ("state=open", "service=ghost", "manager=abc", "declared_after=yesterday"):
        response = client.get(f"{URL}?{bad}")
        assert response.status_code == 400 and bad.split("=")[0] in response.json()["errors"], bad


def test_detail_by_id_or_number_with_etag(api, reader):
    mi = MajorIncidentFactory(state="active")
    client = api.as_user(reader)
    for key in (mi.pk, mi.number, mi.number.lower()):
        response = client.get(f"{URL}{key}/")
        assert response.status_code == 200 and response.json()["id"] == mi.pk
        assert response["ETag"] == f'"v{mi.version}"'
    for key in (999999, "MIM9999999"):
        assert client.get(f"{URL}{key}/").status_code == 404
        assert client.get(f"{URL}{key}/timeline/").status_code == 404
        assert client.get(f"{URL}{key}/transitions/").status_code == 404


def test_list_query_count_does_not_grow(api, reader, make_user):
    for _ in range(6):
        mi = MajorIncidentFactory(state="active")
        Responder.objects.create(major_incident=mi, user=make_user(), paged_at=timezone.now())
        StakeholderUpdate.objects.create(major_incident=mi, audience="external", status="identified", body="b")
    client = api.as_user(reader)
    client.get(URL)  # the token and role caches warm up on a first request
    counts = []
    for size in (2, 6):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"{URL}?page_size={size}").status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_detail_query_count_is_constant(api, mim, make_user, service, django_assert_max_num_queries):
    def heavy(n_incidents, n_updates, n_responders):
        mi = MajorIncidentFactory(state="active", manager=mim, stakeholders=[make_user() for _ in range(3)])
        incidents = [IncidentFactory(service=service) for _ in range(n_incidents)]
        if incidents:
            links.link_incidents(mi, actor=mim, incidents=incidents)
        StakeholderUpdate.objects.bulk_create(
            StakeholderUpdate(
                major_incident=mi, audience="internal", status="identified", body=f"{i}", late_seconds=i % 3
            )
            for i in range(n_updates)
        )
        for _ in range(n_responders):
            Responder.objects.create(major_incident=mi, user=make_user(), paged_at=timezone.now())
        return mi

    client = api.as_user(mim)
    client.get(URL)  # the token and role caches warm up on a first request
    MajorIncidentSettings.current()  # the settings row exists (created on first use)
    counts = []
    for mi in (heavy(0, 0, 0), heavy(40, 200, 8)):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{URL}{mi.pk}/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 8, counts
    assert response.json()["linked_incident_count"] == 41 and response.json()["cadence_compliance"]["updates"] == 200
    with django_assert_max_num_queries(counts[1]):
        client.get(f"{URL}{mi.number}/")


# --- PATCH --------------------------------------------------------------------------------------
def test_patch_with_if_match(api, mim, comms_lead):
    mi = MajorIncidentFactory(state="active", manager=mim)
    client = api.as_user(mim)
    etag = client.get(f"{URL}{mi.pk}/")["ETag"]
    response = client.patch(
        f"{URL}{mi.pk}/",
        {"comms_lead": comms_lead.pk, "chat_channel": "#mi-payments", "update_cadence_minutes": 20},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["comms_lead"] == comms_lead.pk and body["chat_channel"] == "#mi-payments"
    assert response["ETag"] != etag
    stale = client.patch(f"{URL}{mi.pk}/", {"title": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412


def test_patch_bad_input_names_fields(api, mim):
    mi = MajorIncidentFactory(state="active")
    before = stored()
    future = (timezone.now() + timedelta(hours=2)).isoformat()
    response = api.as_user(mim).patch(
        f"{URL}{mi.pk}/",
        {"tech_lead": 999999, "mitigated_at": future, "state": "closed", "affected_services": ["ghost"]},
        format="json",
    )
    assert response.status_code == 400
    # DRF names the read-only field first; the service then names the rest on a clean body.
    assert set(response.json()["errors"]) == {"state"}
    response = api.as_user(mim).patch(
        f"{URL}{mi.pk}/", {"tech_lead": 999999, "mitigated_at": future, "affected_services": ["ghost"]}, format="json"
    )
    assert set(response.json()["errors"]) == {"tech_lead", "mitigated_at", "affected_services"}
    assert stored() == before


def test_patch_on_a_closed_record_is_409(api, mim):
    mi = MajorIncidentFactory(state="closed")
    response = api.as_user(mim).patch(f"{URL}{mi.pk}/", {"title": "x"}, format="json")
    assert response.status_code == 409 and "closed" in response.json()["detail"]


# --- transitions --------------------------------------------------------------------------------
def complete_review(mi):
    PostIncidentReview.objects.create(major_incident=mi, summary="s", root_cause="r", lessons_learned="l")


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ["declare", "reject", "resolve", "start_review", "close"])
def test_transition_matrix(api, mim, state, name):
    mi = MajorIncidentFactory(state=state)
    if state == "in_review":
        complete_review(mi)
    before = stored()
    response = api.as_user(mim).post(f"{URL}{mi.pk}/transitions/{name}/", BODIES.get(name, {}), format="json")
    if (state, name) in ALLOWED:
        assert response.status_code == 200, response.json()
        assert response.json()["state"] == ALLOWED[(state, name)]
        event = MajorIncidentEvent.objects.filter(major_incident=mi, type="transition").latest("id").data
        assert (event["name"], event["from"], event["to"]) == (name, state, ALLOWED[(state, name)])
    else:
        assert response.status_code == 409, response.json()
        assert state in response.json()["detail"] and response.json()["current_state"] == state
        assert stored() == before


def test_transitions_listed_with_their_fields(api, mim, agent):
    mi = MajorIncidentFactory(state="proposed")
    listed = api.as_user(mim).get(f"{URL}{mi.pk}/transitions/").json()
    assert [(t["name"], t["required_fields"]) for t in listed] == [("declare", []), ("reject", ["reason"])]
    assert listed[0]["url"].endswith(f"/major-incidents/{mi.pk}/transitions/declare/")
    assert api.as_user(agent).get(f"{URL}{mi.pk}/transitions/").json() == []
    active = MajorIncidentFactory(state="active")
    (resolve,) = api.as_user(mim).get(f"{URL}{active.pk}/transitions/").json()
    assert resolve["optional_fields"] == ["resolve_linked", "resolution_code", "resolution_notes"]


def test_transition_bodies(api, mim, service):
    mi = MajorIncidentFactory(state="proposed")
    client = api.as_user(mim)
    assert set(client.post(f"{URL}{mi.pk}/transitions/reject/", {}, format="json").json()["errors"]) == {"reason"}
    wrong = client.post(f"{URL}{mi.pk}/transitions/declare/", {"reason": "x"}, format="json")
    assert wrong.status_code == 400 and set(wrong.json()["errors"]) == {"reason"}
    assert client.post(f"{URL}{mi.pk}/transitions/explode/", {}, format="json").status_code == 404
    stale = client.post(f"{URL}{mi.pk}/transitions/declare/", {}, format="json", HTTP_IF_MATCH='"v0"')
    assert stale.status_code == 412
    active = MajorIncidentFactory(state="active")
    reports = [IncidentFactory(service=service) for _ in range(3)]
    links.link_incidents(active, actor=mim, incidents=reports)
    half = client.post(f"{URL}{active.pk}/transitions/resolve/", {"resolve_linked": True}, format="json")
    assert set(half.json()["errors"]) == {"resolution_code", "resolution_notes"}
    body = {"resolve_linked": True, "resolution_code": "fixed", "resolution_notes": "Restarted the cluster."}
    done = client.post(f"{URL}{active.pk}/transitions/resolve/", body, format="json")
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    assert set(Incident.objects.filter(major_incident=active).values_list("state", flat=True)) == {"resolved"}
    for report in reports:
        assert TimelineEvent.objects.filter(incident=report, type="transition", data__name="resolve").count() == 1


def test_close_409_lists_what_the_review_misses(api, mim):
    mi = MajorIncidentFactory(state="in_review")
    response = api.as_user(mim).post(f"{URL}{mi.pk}/transitions/close/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["errors"]["review"] == [
        "summary is empty",
        "root_cause is empty",
        "lessons_learned is empty",
    ]


# --- the merged timeline ------------------------------------------------------------------------
def test_merged_timeline_pages_and_markdown(api, reader, mim, service):
    mi = MajorIncidentFactory(state="active")
    reports = [IncidentFactory(service=service) for _ in range(3)]
    links.link_incidents(mi, actor=mim, incidents=reports)
    client = api.as_user(reader)
    seen, url = [], f"{URL}{mi.pk}/timeline/?page_size=4"
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.json()
        seen += page.json()["results"]
        url = page.json()["next"]
    assert {tuple(sorted(e)) for e in seen} == {("actor", "at", "data", "id", "record", "type")}
    assert [e["at"] for e in seen] == sorted(e["at"] for e in seen)
    records = {e["record"] for e in seen}
    assert {mi.number, mi.incident.number, *(r.number for r in reports)} <= records
    total = (
        MajorIncidentEvent.objects.filter(major_incident=mi).count()
        + TimelineEvent.objects.filter(incident__in=[mi.incident, *reports]).exclude(type="notified").count()
    )
    assert len(seen) == total == len({(e["record"][:3], e["id"]) for e in seen})
    second = client.get(f"{URL}{mi.pk}/timeline/?page_size=4").json()["next"]
    back = client.get(client.get(second).json()["previous"]).json()
    assert [e["id"] for e in back["results"]] == [e["id"] for e in seen[:4]]
    assert client.get(f"{URL}{mi.pk}/timeline/?cursor=bogus").status_code == 404

    markdown = client.get(f"{URL}{mi.pk}/timeline/?format=markdown")
    assert markdown.status_code == 200 and markdown["Content-Type"].startswith("text/markdown")
    assert markdown.content.decode().startswith(f"## Timeline of {mi.number}")
    accepted = client.get(f"{URL}{mi.pk}/timeline/", HTTP_ACCEPT="text/markdown")
    assert accepted["Content-Type"].startswith("text/markdown")
    missing = client.get(f"{URL}999999/timeline/?format=markdown")
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


# --- permissions per role -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "who, propose, declare, patch, run",
    [
        ("agent", 201, 403, 403, 403),
        ("mim", 201, 201, 200, 200),
        ("reader", 403, 403, 403, 403),
        ("integration", 403, 403, 403, 403),
    ],
)
def test_permission_matrix(api, agent, mim, reader, integration, service, who, propose, declare, patch, run):
    user = {"agent": agent, "mim": mim, "reader": reader, "integration": integration}[who]
    client = api.as_user(user)
    incident = IncidentFactory(service=service)
    response = client.post(URL, {"incident": incident.pk, "reason": "r"}, format="json")
    assert response.status_code == propose
    other = IncidentFactory(service=service)
    assert (
        client.post(URL, {"incident": other.pk, "reason": "r", "declare": True}, format="json").status_code == declare
    )
    mi = MajorIncidentFactory(state="proposed")
    for path in ("", f"{mi.pk}/", f"{mi.pk}/transitions/", f"{mi.pk}/timeline/", f"{mi.pk}/incidents/"):
        assert client.get(f"{URL}{path}").status_code == 200, path
    assert client.patch(f"{URL}{mi.pk}/", {"title": "t"}, format="json").status_code == patch
    assert client.post(f"{URL}{mi.pk}/transitions/declare/", {}, format="json").status_code == run
    report = IncidentFactory(service=service)
    linked = client.post(f"{URL}{mi.pk}/incidents/", {"incidents": [report.pk]}, format="json")
    assert linked.status_code == (200 if who == "mim" else 403)
    if who != "mim":
        links.link_incidents(mi, actor=mim, incidents=[report])
    assert client.delete(f"{URL}{mi.pk}/incidents/{report.pk}/").status_code == (204 if who == "mim" else 403)


def test_anonymous_is_401(client):
    assert client.get(URL).status_code == 401
