"""Alertmanager (v4) and Grafana webhooks: alert by alert, partial results, 400 only when nothing is usable."""

import copy

import pytest

from incidents.alerts import adapters
from incidents.models import Incident, IncidentAlert, TimelineEvent
from itsm import roles
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db

AM_URL = "/api/v1/alerts/alertmanager/"
GRAFANA_URL = "/api/v1/alerts/grafana/"


def am_alert(fingerprint="1a30ba71cca2921f", status="firing", **labels) -> dict:
    return {
        "status": status,
        "labels": {"alertname": "ProbeFailure", "instance": "https://server.example.org", "job": "http_checks"}
        | labels,
        "annotations": {"summary": f"BlackBox Probe Failure {fingerprint}", "description": "Down for over 5m."},
        "startsAt": "2023-02-06T13:08:45.828Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0",
        "fingerprint": fingerprint,
    }


def am_payload(*alerts, status="firing") -> dict:
    """The Alertmanager webhook body, version 4."""
    return {
        "version": "4",
        "groupKey": '{}/{severity="critical"}:{alertname="ProbeFailure"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "itsm",
        "groupLabels": {"alertname": "ProbeFailure"},
        "commonLabels": {"alertname": "ProbeFailure"},
        "commonAnnotations": {},
        "externalURL": "http://prometheus.example.org:9093",
        "alerts": list(alerts),
    }


def grafana_payload() -> dict:
    """Grafana's webhook contact point body (unified alerting)."""
    return {
        "receiver": "My Super Webhook",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1", "service": "payroll"},
                "annotations": {
                    "description": "The system has high memory usage",
                    "runbook_url": "https://myrunbook.com/runbook/1234",
                    "summary": "This alert was triggered for zone us-1",
                },
                "startsAt": "2021-10-12T09:51:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
                "fingerprint": "c6eadffa33fcdf37",
                "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana",
                "dashboardURL": "",
                "panelURL": "",
                "values": {"B": 44.23943737541908, "C": 1},
                "valueString": "[ var='B' labels={} value=44.2 ]",
            },
            {
                "status": "firing",
                "labels": {"alertname": "High CPU usage", "team": "blue", "zone": "eu-1", "severity": "warning"},
                "annotations": {},
                "startsAt": "2021-10-12T09:56:03.157076+02:00",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
                "fingerprint": "bc97ff14869b13e3",
            },
        ],
        "groupLabels": {},
        "commonLabels": {"team": "blue"},
        "commonAnnotations": {},
        "externalURL": "https://play.grafana.org/",
        "version": "1",
        "groupKey": '{}:{alertname="High memory usage"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:2]  (blue)",
        "state": "alerting",
        "message": "**Firing**",
    }


@pytest.fixture
def client(api, make_user):
    return api.as_user(make_user(roles.INTEGRATION))


@pytest.fixture
def payroll(group):
    return ServiceFactory(slug="payroll", owner_group=group)


# --- Alertmanager -------------------------------------------------------------------------------
def test_each_alert_of_a_group_becomes_its_own_incident(client, payroll, group):
    payload = am_payload(am_alert("aaa", severity="critical", service="payroll"), am_alert("bbb", severity="warning"))

    response = client.post(AM_URL, payload, format="json")

    assert response.status_code == 202, response.json()
    results = response.json()["results"]
    assert [r["dedup_key"] for r in results] == ["aaa", "bbb"]
    assert all(r["created"] for r in results)
    first = Incident.objects.get(dedup_key="aaa")
    assert results[0]["incident"] == {"id": first.pk, "number": first.number}
    assert first.title == "BlackBox Probe Failure aaa"  # annotations.summary
    assert first.service == payroll and first.assignment_group == group
    assert first.channel == "monitoring" and first.alert_source == "https://server.example.org"
    assert (first.impact, first.urgency) == (1, 1)
    second = Incident.objects.get(dedup_key="bbb")
    assert second.service is None and (second.impact, second.urgency) == (2, 2)
    details = IncidentAlert.objects.get(incident=first).details
    assert details["labels"]["alertname"] == "ProbeFailure"
    assert details["generatorURL"].startswith("http://prometheus")
    assert details["receiver"] == "itsm" and "groupKey" in details


def test_a_repeated_notification_counts_occurrences(client):
    payload = am_payload(am_alert("aaa"))
    client.post(AM_URL, payload, format="json")
    response = client.post(AM_URL, payload, format="json")

    assert response.json()["results"][0]["created"] is False
    assert response.json()["results"][0]["alert_count"] == 2
    assert Incident.objects.count() == 1


def test_resolved_alerts_resolve_their_incident(client):
    client.post(AM_URL, am_payload(am_alert("aaa")), format="json")
    resolved = am_alert("aaa", status="resolved")
    resolved["endsAt"] = "2023-02-06T14:00:00Z"

    response = client.post(AM_URL, am_payload(resolved, status="resolved"), format="json")

    assert response.status_code == 202
    assert response.json()["results"][0]["state"] == "resolved"
    incident = Incident.objects.get()
    assert incident.state == "resolved" and incident.resolution_code == "auto_resolved"
    assert "2023-02-06T14:00:00Z" in incident.resolution_notes


def test_summary_falls_back_to_the_alertname(client):
    alert = am_alert("aaa")
    alert["annotations"] = {}
    client.post(AM_URL, am_payload(alert), format="json")
    assert Incident.objects.get().title == "ProbeFailure"


def test_one_bad_alert_does_not_reject_the_others(client):
    payload = am_payload(am_alert("bad", service="no-such-service"), am_alert("good"), "not an object")

    response = client.post(AM_URL, payload, format="json")

    assert response.status_code == 202
    bad, good, garbage = response.json()["results"]
    assert bad["dedup_key"] == "bad" and bad["error"]["type"] == "validation_error"
    assert "service" in bad["error"]["errors"]
    assert good["created"] is True
    assert garbage["error"]["type"] == "validation_error" and garbage["dedup_key"] is None
    assert list(Incident.objects.values_list("dedup_key", flat=True)) == ["good"]


def test_a_payload_with_no_usable_alert_is_a_400_naming_each_problem(client):
    no_status = am_alert("b")
    no_status["status"] = "pending"
    payload = am_payload(am_alert("a", service="nope"), no_status)
    payload["status"] = "weird"

    response = client.post(AM_URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "alerts.0.service" in errors and "alerts.1.status" in errors
    assert Incident.objects.count() == 0 and TimelineEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "4", "alerts": []}, "alerts"),
        ({"version": "4"}, "alerts"),
        ({"alerts": "many"}, "alerts"),
        ([am_alert("a")], "non_field_errors"),
    ],
)
def test_a_malformed_payload_is_a_400(client, body, field):
    response = client.post(AM_URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Incident.objects.count() == 0


def test_a_non_json_body_is_a_400(client):
    response = client.post(AM_URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and "non_field_errors" in response.json()["errors"]


def test_a_resolve_for_an_unknown_fingerprint_is_reported_per_alert(client):
    response = client.post(AM_URL, am_payload(am_alert("ghost", status="resolved"), am_alert("new")), format="json")

    assert response.status_code == 202
    ghost, new = response.json()["results"]
    assert ghost["error"]["type"] == "not_found" and new["created"] is True


def test_the_service_label_is_configurable(client, payroll, monkeypatch):
    monkeypatch.setenv("ALERT_SERVICE_LABEL", "app")
    client.post(AM_URL, am_payload(am_alert("a", app="payroll", service="ignored")), format="json")
    assert Incident.objects.get().service == payroll


def test_an_alert_without_fingerprint_is_keyed_by_its_labels(client):
    alert = am_alert("x")
    del alert["fingerprint"]
    first = client.post(AM_URL, am_payload(alert), format="json").json()["results"][0]
    again = client.post(AM_URL, am_payload(copy.deepcopy(alert)), format="json").json()["results"][0]

    assert first["dedup_key"] == again["dedup_key"] == adapters.fingerprint_of(alert["labels"])
    assert again["alert_count"] == 2


@pytest.mark.parametrize(
    ("label", "severity"),
    [("critical", "critical"), ("page", "critical"), ("warn", "warning"), ("Info", "info"), ("", "error")],
)
def test_severity_labels_are_mapped(label, severity):
    event = adapters.alert_to_event(
        am_alert("a", severity=label), am_payload(), tool="alertmanager", detail_keys=adapters.ALERTMANAGER_DETAIL_KEYS
    )
    assert event["severity"] == severity


def test_oversized_details_are_trimmed_rather_than_refused(client, monkeypatch):
    monkeypatch.setenv("ALERT_DETAILS_MAX_BYTES", "2000")
    alert = am_alert("big")
    alert["annotations"]["description"] = "x" * 5000

    response = client.post(AM_URL, am_payload(alert), format="json")

    assert response.status_code == 202
    details = IncidentAlert.objects.get().details
    assert details["truncated"] is True and details["labels"]["alertname"] == "ProbeFailure"


def test_webhooks_need_the_integration_role(api, make_user):
    response = api.as_user(make_user(roles.SERVICE_DESK_AGENT)).post(AM_URL, am_payload(am_alert()), format="json")
    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied"
    assert Incident.objects.count() == 0


# --- Grafana ------------------------------------------------------------------------------------
def test_grafana_alerts_become_incidents(client, payroll):
    response = client.post(GRAFANA_URL, grafana_payload(), format="json")

    assert response.status_code == 202, response.json()
    memory, cpu = response.json()["results"]
    assert memory["dedup_key"] == "c6eadffa33fcdf37" and memory["created"]
    incident = Incident.objects.get(dedup_key="c6eadffa33fcdf37")
    assert incident.title == "This alert was triggered for zone us-1"
    assert incident.service == payroll
    assert incident.alert_source == "grafana"
    details = IncidentAlert.objects.get(incident=incident).details
    assert details["values"] == {"B": 44.23943737541908, "C": 1}
    assert "silenceURL" in details and "dashboardURL" not in details  # empty links are left out
    cpu_incident = Incident.objects.get(dedup_key="bc97ff14869b13e3")
    assert cpu_incident.title == "High CPU usage" and (cpu_incident.impact, cpu_incident.urgency) == (2, 2)


def test_grafana_resolved_notification_resolves(client, payroll):
    client.post(GRAFANA_URL, grafana_payload(), format="json")
    payload = grafana_payload()
    payload["status"] = "resolved"
    for alert in payload["alerts"]:
        alert["status"] = "resolved"
        alert["endsAt"] = "2021-10-12T10:30:00+02:00"

    response = client.post(GRAFANA_URL, payload, format="json")

    assert response.status_code == 202
    assert {r["state"] for r in response.json()["results"]} == {"resolved"}
    assert set(Incident.objects.values_list("state", flat=True)) == {"resolved"}
