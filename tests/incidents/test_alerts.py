"""Alert events: trigger/acknowledge/resolve semantics, the timeline rule, bad input, permissions, throttling."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services
from incidents.alerts import services as alerts
from incidents.models import AlertRoute, Comment, Incident, IncidentAlert, TimelineEvent
from itsm import roles
from itsm.api.throttling import AlertRateThrottle, TokenRateThrottle
from tests.factories import AssignmentGroupFactory, ServiceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/"
CONTRACT = {"incident", "dedup_key", "created", "alert_count"}


@pytest.fixture
def integration(make_user):
    return make_user(roles.INTEGRATION, username="prometheus")


@pytest.fixture
def client(api, integration):
    return api.as_user(integration)


def trigger(client, **fields):
    body = {"action": "trigger", "summary": "Disk full on db-1", "severity": "critical", "source": "db-1"} | fields
    return client.post(URL, body, format="json")


def alert_events(incident) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, type="alert").order_by("id"))


def nothing_written():
    assert Incident.objects.count() == 0
    assert TimelineEvent.objects.count() == 0
    assert IncidentAlert.objects.count() == 0


# --- trigger ------------------------------------------------------------------------------------
def test_trigger_opens_a_monitoring_incident_routed_to_the_service_owner(client, service, group):
    response = trigger(client, dedup_key="db-1/disk", service=service.slug, details={"mount": "/var"})

    assert response.status_code == 202, response.json()
    body = response.json()
    assert CONTRACT <= set(body)
    assert body["created"] is True and body["dedup_key"] == "db-1/disk" and body["alert_count"] == 1
    incident = Incident.objects.get()
    assert body["incident"] == {"id": incident.pk, "number": incident.number}
    assert incident.channel == "monitoring"
    assert incident.title == "Disk full on db-1"
    assert incident.dedup_key == "db-1/disk" and incident.alert_source == "db-1"
    assert (incident.impact, incident.urgency, incident.priority) == (1, 1, 1)  # critical, global default
    assert incident.assignment_group == group
    assert incident.assignee is None
    assert incident.alert_count == 1
    assert incident.alert_first_seen_at == incident.alert_last_seen_at is not None
    assert "mount" in incident.description
    [event] = alert_events(incident)
    assert event.data["count"] == 1 and event.data["details"] == {"mount": "/var"}
    assert event.data["last_seen"].endswith("Z")
    assert IncidentAlert.objects.get(incident=incident).severity == "critical"


def test_repeated_trigger_counts_occurrences_on_the_open_incident(client, service):
    first = trigger(client, dedup_key="k1", service=service.slug).json()
    second = trigger(client, dedup_key="k1", service=service.slug, details={"n": 2}, summary="Disk still full")

    assert second.status_code == 202
    assert second.json()["created"] is False
    assert second.json()["incident"] == first["incident"]
    assert second.json()["alert_count"] == 2
    incident = Incident.objects.get()
    assert incident.alert_count == 2
    assert incident.title == "Disk full on db-1"  # the first summary stays the title
    alert = IncidentAlert.objects.get(incident=incident)
    assert alert.details == {"n": 2} and alert.summary == "Disk still full"  # latest occurrence kept
    assert len(alert_events(incident)) == 1  # not one event per occurrence


def test_occurrences_are_summarised_at_powers_of_ten(integration, service):
    for n in range(1, 101):
        result = alerts.ingest_event(
            integration, action="trigger", dedup_key="flap", summary="Flapping", severity="warning", details={"n": n}
        )
    assert result.alert_count == 100
    events = alert_events(result.incident)
    assert [e.data["count"] for e in events] == [1, 10, 100]
    assert [e.data["occurrences"] for e in events] == [1, 9, 90]
    assert events[-1].data["details"] == {"n": 100}


def test_a_long_running_alert_is_summarised_once_per_interval(integration, monkeypatch):
    monkeypatch.setenv("ALERT_SUMMARY_INTERVAL_MINUTES", "30")
    first = alerts.ingest_event(integration, action="trigger", dedup_key="slow", summary="Slow", severity="info")
    alerts.ingest_event(integration, action="trigger", dedup_key="slow", summary="Slow", severity="info")
    assert len(alert_events(first.incident)) == 1
    IncidentAlert.objects.filter(pk=first.incident.pk).update(summarised_at=timezone.now() - timedelta(minutes=31))

    alerts.ingest_event(integration, action="trigger", dedup_key="slow", summary="Slow", severity="info")
    alerts.ingest_event(integration, action="trigger", dedup_key="slow", summary="Slow", severity="info")

    assert [e.data["count"] for e in alert_events(first.incident)] == [1, 3]


@pytest.mark.parametrize(
    ("count", "expected"), [(1, True), (2, False), (10, True), (11, False), (100, True), (1000, True), (1001, False)]
)
def test_power_of_ten(count, expected):
    assert alerts.is_power_of_ten(count) is expected


def test_occurrences_do_not_bump_the_incident_version(integration):
    first = alerts.ingest_event(integration, action="trigger", dedup_key="v", summary="S", severity="info")
    version = Incident.objects.get().version
    alerts.ingest_event(integration, action="trigger", dedup_key="v", summary="S", severity="info")
    assert Incident.objects.get(pk=first.incident.pk).version == version


def test_an_older_timestamp_does_not_move_last_seen_back(integration):
    now = timezone.now().replace(microsecond=0)
    alerts.ingest_event(integration, action="trigger", dedup_key="t", summary="S", severity="info", timestamp=now)
    alerts.ingest_event(
        integration, action="trigger", dedup_key="t", summary="S", severity="info", timestamp=now - timedelta(hours=1)
    )
    incident = Incident.objects.get()
    assert incident.alert_last_seen_at == now
    assert incident.alert_first_seen_at == now - timedelta(hours=1)


def test_trigger_without_dedup_key_gets_one_generated(client):
    response = trigger(client)
    assert response.status_code == 202
    key = response.json()["dedup_key"]
    assert len(key) == 32
    assert Incident.objects.get().dedup_key == key


def test_after_resolve_a_new_trigger_opens_a_new_incident_linked_to_the_first(integration, administrator):
    first = alerts.ingest_event(integration, action="trigger", dedup_key="r", summary="S", severity="error")
    alerts.ingest_event(integration, action="resolve", dedup_key="r")
    second = alerts.ingest_event(integration, action="trigger", dedup_key="r", summary="S", severity="error")
    alerts.ingest_event(integration, action="resolve", dedup_key="r")
    services.close(second.incident, actor=administrator)  # closed, not only resolved
    third = alerts.ingest_event(integration, action="trigger", dedup_key="r", summary="S", severity="error")

    assert second.created and third.created
    assert len({first.incident.pk, second.incident.pk, third.incident.pk}) == 3
    second.incident.refresh_from_db()
    third.incident.refresh_from_db()
    assert second.incident.parent_id == first.incident.pk
    assert third.incident.parent_id == first.incident.pk  # recurrences hang under the first of the chain
    assert f"Recurrence of {second.incident.number}" in third.incident.description
    assert TimelineEvent.objects.filter(incident=first.incident, type="linked", data__kind="child").count() == 2
    assert third.alert_count == 1


# --- severity mapping and routes ----------------------------------------------------------------
def test_the_service_route_overrides_the_global_mapping_and_routes_to_its_group(client):
    owner = AssignmentGroupFactory(name="Owners")
    oncall = AssignmentGroupFactory(name="On call")
    service = ServiceFactory(slug="payroll", owner_group=owner)
    AlertRoute.objects.create(
        service=service, severity_map={"warning": {"impact": 1, "urgency": 2}}, assignment_group=oncall
    )

    warning = trigger(client, dedup_key="w", severity="warning", service="payroll")
    info = trigger(client, dedup_key="i", severity="info", service="payroll")

    assert warning.status_code == info.status_code == 202
    w = Incident.objects.get(dedup_key="w")
    i = Incident.objects.get(dedup_key="i")
    assert (w.impact, w.urgency, w.priority) == (1, 2, 2)
    assert (i.impact, i.urgency, i.priority) == (3, 3, 5)  # not in the route: global default
    assert w.assignment_group == oncall


def test_the_global_mapping_comes_from_the_environment(client, monkeypatch):
    monkeypatch.setenv("ALERT_SEVERITY_MAP", '{"info": {"impact": 2, "urgency": 3}}')
    trigger(client, dedup_key="i", severity="info")
    incident = Incident.objects.get()
    assert (incident.impact, incident.urgency) == (2, 3)


def test_route_severity_map_is_validated():
    from django.core.exceptions import ValidationError

    from incidents.models.alerts import validate_severity_map

    validate_severity_map({"critical": {"impact": 1, "urgency": 1}})
    for bad in ({"fatal": {"impact": 1, "urgency": 1}}, {"info": {"impact": 4, "urgency": 1}}, {"info": [1, 1]}, []):
        with pytest.raises(ValidationError):
            validate_severity_map(bad)


# --- acknowledge --------------------------------------------------------------------------------
def test_acknowledge_starts_with_the_routed_group_and_no_assignee(client, integration, service, group):
    group.members.add(integration)  # even a member integration never takes the work
    created = trigger(client, dedup_key="a", service=service.slug).json()

    response = client.post(URL, {"action": "acknowledge", "dedup_key": "a"}, format="json")

    assert response.status_code == 202, response.json()
    assert response.json()["incident"] == created["incident"]
    assert response.json()["state"] == "in_progress"
    incident = Incident.objects.get()
    assert incident.state == "in_progress" and incident.responded_at is not None
    assert incident.assignment_group == group and incident.assignee is None
    assert IncidentAlert.objects.get(incident=incident).acknowledged_at is not None

    again = client.post(URL, {"action": "acknowledge", "dedup_key": "a"}, format="json")
    assert again.status_code == 202
    assert TimelineEvent.objects.filter(incident=incident, type="transition").count() == 1


def test_acknowledge_without_a_group_is_a_conflict_and_changes_nothing(client):
    trigger(client, dedup_key="nogroup")  # no service: no group to start in
    before = TimelineEvent.objects.count()

    response = client.post(URL, {"action": "acknowledge", "dedup_key": "nogroup"}, format="json")

    assert response.status_code == 409
    assert "no assignment group" in response.json()["detail"]
    assert Incident.objects.get().state == "new"
    assert TimelineEvent.objects.count() == before


# --- resolve ------------------------------------------------------------------------------------
def test_resolve_resolves_with_auto_resolved(client, service):
    trigger(client, dedup_key="x", service=service.slug)

    response = client.post(URL, {"action": "resolve", "dedup_key": "x", "summary": "Disk OK"}, format="json")

    assert response.status_code == 202
    assert response.json()["state"] == "resolved"
    incident = Incident.objects.get()
    assert incident.state == "resolved" and incident.resolution_code == "auto_resolved"
    assert "Disk OK" in incident.resolution_notes
    assert IncidentAlert.objects.get(incident=incident).cleared_at is not None


def test_a_repeated_resolve_answers_with_the_resolved_incident_unchanged(client, service):
    trigger(client, dedup_key="x", service=service.slug)
    client.post(URL, {"action": "resolve", "dedup_key": "x"}, format="json")
    before = TimelineEvent.objects.count()

    again = client.post(URL, {"action": "resolve", "dedup_key": "x"}, format="json")

    assert again.status_code == 202
    assert again.json()["state"] == "resolved" and again.json()["created"] is False
    assert TimelineEvent.objects.count() == before


def test_a_route_may_only_annotate_on_resolve(client, service):
    AlertRoute.objects.create(service=service, on_resolve="annotate")
    trigger(client, dedup_key="keep", service=service.slug)

    response = client.post(URL, {"action": "resolve", "dedup_key": "keep"}, format="json")

    assert response.status_code == 202
    incident = Incident.objects.get()
    assert incident.state == "new"
    note = Comment.objects.get(incident=incident)
    assert note.visibility == "internal" and "reports this alert resolved" in note.body
    assert IncidentAlert.objects.get(incident=incident).cleared_at is not None
    # Firing again clears the "monitoring says resolved" mark and counts on the same incident.
    assert trigger(client, dedup_key="keep", service=service.slug).json()["alert_count"] == 2
    assert IncidentAlert.objects.get(incident=incident).cleared_at is None


def test_an_incident_opened_by_hand_with_a_dedup_key_takes_occurrences(integration, make_user, service):
    agent = make_user(roles.SERVICE_DESK_AGENT)
    manual = services.open_incident(actor=agent, title="Seen by a person", dedup_key="hand", service=service)

    result = alerts.ingest_event(integration, action="trigger", dedup_key="hand", summary="S", severity="info")

    assert result.incident.pk == manual.pk and not result.created
    assert IncidentAlert.objects.filter(incident=manual).exists()


# --- bad input: 400 naming the field, nothing written --------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "explode", "dedup_key": "k"}, "action"),
        ({"action": "trigger", "summary": "S", "severity": "fatal"}, "severity"),
        ({"action": "trigger", "summary": "S"}, "severity"),
        ({"action": "trigger", "severity": "info"}, "summary"),
        ({"action": "acknowledge"}, "dedup_key"),
        ({"action": "resolve", "dedup_key": ""}, "dedup_key"),
        ({"action": "trigger", "summary": "S", "severity": "info", "service": "nope"}, "service"),
        ({"action": "trigger", "summary": "S", "severity": "info", "details": ["not", "an", "object"]}, "details"),
        ({"action": "trigger", "summary": "S", "severity": "info", "details": {"blob": "x" * 70_000}}, "details"),
        ({"action": "trigger", "summary": "x" * 1025, "severity": "info"}, "summary"),
        ({"action": "trigger", "summary": "S", "severity": "info", "dedup_key": "k" * 256}, "dedup_key"),
        ({"action": "trigger", "summary": "S", "severity": "info", "timestamp": "yesterday"}, "timestamp"),
        ({"action": "trigger", "summary": "S", "severity": "info", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, service, body, field):
    response = client.post(URL, body, format="json")

    assert response.status_code == 400, response.json()
    payload = response.json()
    assert payload["type"] == "validation_error"
    assert field in payload["errors"], payload
    nothing_written()


def test_an_inactive_service_is_refused(client):
    ServiceFactory(slug="retired", active=False)
    response = trigger(client, service="retired")
    assert response.status_code == 400 and "service" in response.json()["errors"]
    nothing_written()


def test_a_non_json_body_is_a_400(client):
    response = client.post(URL, "action=trigger&summary=x", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert "non_field_errors" in response.json()["errors"]
    nothing_written()


def test_a_json_body_that_is_not_an_object_is_a_400(client):
    response = client.post(URL, [1, 2], format="json")
    assert response.status_code == 400
    nothing_written()


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_of_an_unknown_key_is_a_404(client, action):
    response = client.post(URL, {"action": action, "dedup_key": "never-seen"}, format="json")

    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "not_found" and "never-seen" in body["detail"] and body["errors"] == {}
    nothing_written()


# --- who may send, throttling, idempotency -------------------------------------------------------
@pytest.mark.parametrize("role", [roles.SERVICE_DESK_AGENT, roles.READ_ONLY, roles.RESOLVER])
def test_only_integrations_and_administrators_send_alerts(api, make_user, role):
    response = trigger(api.as_user(make_user(role)))
    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied" and response.json()["errors"] == {}
    nothing_written()


def test_administrators_may_send_alerts(api, administrator):
    assert trigger(api.as_user(administrator)).status_code == 202


def test_anonymous_calls_are_refused(api):
    assert trigger(api).status_code == 401
    nothing_written()


def test_the_service_refuses_other_roles(make_user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        alerts.ingest_event(make_user(roles.RESOLVER), action="trigger", summary="S", severity="info")


def test_alert_throttling_has_its_own_bucket(client, monkeypatch):
    monkeypatch.setattr(AlertRateThrottle, "THROTTLE_RATES", {"alerts": "2/min", "token": "1000/min"})
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"alerts": "2/min", "token": "1000/min"})
    assert trigger(client, dedup_key="t").status_code == 202
    assert trigger(client, dedup_key="t").status_code == 202

    throttled = trigger(client, dedup_key="t")

    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert throttled.json()["type"] == "throttled"
    assert Incident.objects.get().alert_count == 2
    assert client.get("/api/v1/incidents/").status_code == 200  # the normal API is not blocked


def test_the_normal_api_budget_does_not_block_alerts(client, monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"alerts": "1000/min", "token": "1/min"})
    monkeypatch.setattr(AlertRateThrottle, "THROTTLE_RATES", {"alerts": "1000/min", "token": "1/min"})
    assert client.get("/api/v1/incidents/").status_code == 200
    assert client.get("/api/v1/incidents/").status_code == 429
    assert trigger(client).status_code == 202


def test_an_idempotency_key_replays_instead_of_counting_again(client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "delivery-1"}
    body = {"action": "trigger", "dedup_key": "idem", "summary": "S", "severity": "info"}
    first = client.post(URL, body, format="json", **headers)
    second = client.post(URL, body, format="json", **headers)

    assert first.status_code == second.status_code == 202
    assert second["Idempotent-Replayed"] == "true"
    assert Incident.objects.get().alert_count == 1


def test_the_result_serialises_as_the_api_contract(integration):
    result = alerts.ingest_event(integration, action="trigger", summary="S", severity="info", dedup_key="c")
    assert result.as_dict() == {
        "incident": {"id": result.incident.pk, "number": result.incident.number},
        "dedup_key": "c",
        "created": True,
        "alert_count": 1,
        "action": "trigger",
        "state": "new",
    }


def test_a_changed_service_reaches_the_cached_lookup_of_alerts(client):
    from tests.helpers import commit

    retiring = ServiceFactory(slug="retiring")
    commit()
    assert trigger(client, service="retiring", dedup_key="a").status_code == 202
    assert alerts.ALERT_SERVICES.get("retiring", lambda: None) is not None  # cached now
    retiring.active = False
    retiring.save()
    commit()

    refused = trigger(client, service="retiring", dedup_key="b")

    assert refused.status_code == 400 and "inactive" in refused.json()["errors"]["service"][0]


def test_numbers_are_accepted_where_text_is_expected(client):
    response = trigger(client, dedup_key=12345, source=7)
    assert response.status_code == 202 and response.json()["dedup_key"] == "12345"
