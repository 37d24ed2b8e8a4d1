"""API contracts: /webhooks/, /notifications/, /subscriptions/, rules, templates, event types."""

import pytest

from communications.models import Notification, Subscription, WebhookEndpoint
from communications.services import emit
from itsm import roles
from tests.communications.factories import (
    SECRET,
    NotificationTemplateFactory,
    SubscriptionFactory,
    WebhookEndpointFactory,
    make_subject,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(make_user):
    return make_user(roles.INTEGRATION, is_staff=False)


def webhook_body(**overrides) -> dict:
    return {"url": "https://hooks.example.com/itsm", "events": ["incident.*"], "secret": SECRET, **overrides}


def assert_400(response, *fields):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "validation_error"
    for field in fields:
        assert field in body["errors"], body


# --- /webhooks/ ------------------------------------------------------------------------------------


def test_administrator_manages_webhooks_and_the_secret_is_write_only(api, administrator):
    client = api.as_user(administrator)
    created = client.post("/api/v1/webhooks/", webhook_body(description="CMDB sync"))
    assert created.status_code == 201, created.content
    data = created.json()
    assert "secret" not in data
    assert {"id", "url", "events", "active"} <= set(data) and data["active"] is True
    assert WebhookEndpoint.objects.get(pk=data["id"]).secret == SECRET

    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert [e["id"] for e in listed] == [data["id"]] and "secret" not in listed[0]

    patched = client.patch(f"/api/v1/webhooks/{data['id']}/", {"events": ["major_incident.*"]})
    assert patched.status_code == 200 and patched.json()["events"] == ["major_incident.*"]
    assert client.delete(f"/api/v1/webhooks/{data['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "ftp://hooks.example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "http://127.0.0.1:8000/hook"}, "url"),
        ({"url": "http://169.254.169.254/"}, "url"),
        ({"secret": "short"}, "secret"),
        ({"events": ["incident.exploded"]}, "events"),
        ({"events": ["nope.*"]}, "events"),
        ({"channel": "email"}, "channel"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_webhook_input_is_a_400_naming_the_field(api, administrator, overrides, field):
    assert_400(api.as_user(administrator).post("/api/v1/webhooks/", webhook_body(**overrides)), field)
    assert not WebhookEndpoint.objects.exists()


def test_a_webhook_needs_a_secret_a_chat_endpoint_does_not(api, administrator):
    client = api.as_user(administrator)
    body = webhook_body()
    del body["secret"]
    assert_400(client.post("/api/v1/webhooks/", body), "secret")
    slack = client.post("/api/v1/webhooks/", {**body, "channel": "slack"})
    assert slack.status_code == 201


def test_integrations_manage_their_own_endpoints_others_may_not(api, integration, reader, administrator):
    other = WebhookEndpointFactory()
    client = api.as_user(integration)
    mine = client.post("/api/v1/webhooks/", webhook_body()).json()
    assert [e["id"] for e in client.get("/api/v1/webhooks/").json()["results"]] == [mine["id"]]
    assert client.get(f"/api/v1/webhooks/{other.pk}/").status_code == 404
    assert api.as_user(reader).get("/api/v1/webhooks/").status_code == 403
    assert api.as_user(reader).post("/api/v1/webhooks/", webhook_body()).status_code == 403
    assert len(api.as_user(administrator).get("/api/v1/webhooks/").json()["results"]) == 2


def test_reactivating_an_endpoint_clears_why_it_was_disabled(api, administrator):
    endpoint = WebhookEndpointFactory(active=False, disabled_reason="410 Gone", consecutive_failures=4)
    response = api.as_user(administrator).patch(f"/api/v1/webhooks/{endpoint.pk}/", {"active": True})
    assert response.status_code == 200
    assert response.json()["disabled_reason"] == "" and response.json()["consecutive_failures"] == 0


def test_send_a_test_event(api, administrator, private_ok, httpserver, django_capture_on_commit_callbacks):
    endpoint = WebhookEndpointFactory(url=httpserver.url_for("/hook"), events=[])
    httpserver.expect_request("/hook").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.as_user(administrator).post(f"/api/v1/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 202
    assert response.json()["event"] == "webhook.test"
    request = httpserver.log[0][0]
    assert request.headers["X-ITSM-Event"] == "webhook.test"
    assert request.get_json()["data"]["endpoint"]["id"] == endpoint.pk
    assert Notification.objects.get(pk=response.json()["id"]).status == "sent"


def test_test_event_on_a_disabled_endpoint_is_a_409(api, administrator):
    endpoint = WebhookEndpointFactory(active=False)
    response = api.as_user(administrator).post(f"/api/v1/webhooks/{endpoint.pk}/test/")
    assert response.status_code == 409 and response.json()["errors"] == {}


# --- /notifications/ ---------------------------------------------------------------------------------


@pytest.fixture
def log(make_user, no_default_rules):
    """Three deliveries: two emails to a user, one webhook."""
    from tests.communications.factories import NotificationRuleFactory

    user = make_user()
    NotificationRuleFactory(events=["incident.*"], recipients=[], users=[user])
    endpoint = WebhookEndpointFactory(events=["incident.assigned"])
    emit("incident.created", make_subject(id=1), {})
    emit("incident.assigned", make_subject(id=2, number="INC0000002"), {})
    return user, endpoint


def test_notification_log_fields_and_cursor_pagination(api, administrator, log):
    client = api.as_user(administrator)
    page = client.get("/api/v1/notifications/?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"] and "cursor=" in page["next"] and "count" not in page
    item = page["results"][0]
    assert {
        "id",
        "event",
        "channel",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    } <= set(item)
    assert item["subject"]["number"] == "INC0000002"
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    ids = [r["id"] for r in page["results"] + rest["results"]]
    assert ids == sorted(ids, reverse=True)


def test_notification_filters(api, administrator, log):
    user, endpoint = log
    client = api.as_user(administrator)

    def ids(query):
        response = client.get(f"/api/v1/notifications/?{query}")
        assert response.status_code == 200, response.content
        return [r["recipient"] for r in response.json()["results"]]

    assert ids("channel=webhook") == [endpoint.url]
    assert ids(f"recipient={user.email.upper()}") == [user.email, user.email]
    assert ids("event=incident.created") == [user.email]
    assert len(ids("status=pending,sent")) == 3
    assert ids("subject_number=INC0000002&channel=email") == [user.email]
    assert_400(client.get("/api/v1/notifications/?status=exploded"), "status")
    assert_400(client.get("/api/v1/notifications/?ordering=recipient"), "ordering")


def test_notification_detail_has_the_attempt_history(api, administrator, log):
    row = Notification.objects.filter(channel="email").first()
    from communications import delivery

    delivery.deliver(row.pk)
    detail = api.as_user(administrator).get(f"/api/v1/notifications/{row.pk}/").json()
    assert detail["status"] == "sent" and detail["body_text"]
    assert [(h["number"], h["outcome"]) for h in detail["history"]] == [(1, "success")]


def test_people_see_only_their_own_notifications(api, reader, log):
    user, _ = log
    assert api.as_user(reader).get("/api/v1/notifications/").json()["results"] == []
    mine = api.as_user(user).get("/api/v1/notifications/").json()["results"]
    assert len(mine) == 2 and {r["recipient"] for r in mine} == {user.email}


def test_retry_now(api, administrator, reader, log):
    row = Notification.objects.filter(channel="email").first()
    Notification.objects.filter(pk=row.pk).update(status="dead", attempts=8, max_attempts=8, last_error="boom")
    assert api.as_user(reader).post(f"/api/v1/notifications/{row.pk}/retry/").status_code == 403
    response = api.as_user(administrator).post(f"/api/v1/notifications/{row.pk}/retry/")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending" and response.json()["max_attempts"] == 16

    Notification.objects.filter(pk=row.pk).update(status="sent")
    conflict = api.as_user(administrator).post(f"/api/v1/notifications/{row.pk}/retry/")
    assert conflict.status_code == 409 and conflict.json()["type"] == "not_retryable"


def test_the_log_is_read_only(api, administrator, log):
    row = Notification.objects.first()
    client = api.as_user(administrator)
    assert client.post("/api/v1/notifications/", {}).status_code == 405
    assert client.delete(f"/api/v1/notifications/{row.pk}/").status_code == 405


# --- /subscriptions/ -----------------------------------------------------------------------------------


def test_users_subscribe_themselves_to_a_service_and_to_a_record(api, reader, service):
    client = api.as_user(reader)
    response = client.post("/api/v1/subscriptions/", {"service": service.slug})
    assert response.status_code == 201, response.content
    assert response.json()["user"] == reader.pk and response.json()["service"] == service.slug
    record = client.post("/api/v1/subscriptions/", {"subject_kind": "major_incident", "subject_id": 4})
    assert record.status_code == 201
    assert client.post("/api/v1/subscriptions/", {"service": service.slug}).status_code == 409
    assert len(client.get("/api/v1/subscriptions/").json()["results"]) == 2
    assert client.delete(f"/api/v1/subscriptions/{record.json()['id']}/").status_code == 204


def test_users_manage_only_their_own_subscriptions(api, reader, make_user, service):
    other = make_user()
    theirs = SubscriptionFactory(user=other, service=service)
    client = api.as_user(reader)
    assert client.post("/api/v1/subscriptions/", {"service": service.slug, "user": other.pk}).status_code == 403
    assert client.post("/api/v1/subscriptions/", {"service": service.slug, "email": "x@example.com"}).status_code == 403
    assert client.delete(f"/api/v1/subscriptions/{theirs.pk}/").status_code == 404
    assert Subscription.objects.filter(pk=theirs.pk).exists()


def test_administrators_subscribe_external_stakeholders(api, administrator, service):
    response = api.as_user(administrator).post(
        "/api/v1/subscriptions/", {"email": "CEO@Example.com", "service": service.slug, "events": ["major_incident.*"]}
    )
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "ceo@example.com" and response.json()["user"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "service"),
        ({"service": "no-such-service"}, "service"),
        ({"subject_kind": "incident"}, "subject_id"),
        ({"subject_kind": "spaceship", "subject_id": 1}, "subject_kind"),
        ({"subject_kind": "incident", "subject_id": 1, "events": ["bogus"]}, "events"),
    ],
)
def test_bad_subscriptions_are_400s_naming_the_field(api, reader, body, field):
    assert_400(api.as_user(reader).post("/api/v1/subscriptions/", body), field)


# --- rules, templates, event types ------------------------------------------------------------


def test_rules_api(api, administrator, reader, make_user):
    client = api.as_user(administrator)
    user = make_user()
    created = client.post(
        "/api/v1/notification-rules/",
        {"name": "P1 to the duty manager", "events": ["incident.created"], "users": [user.pk], "priorities": [1]},
    )
    assert created.status_code == 201, created.content
    assert created.json()["channel"] == "email"
    assert_400(
        client.post("/api/v1/notification-rules/", {"name": "x", "events": ["nope"], "recipients": ["caller"]}),
        "events",
    )
    assert_400(client.post("/api/v1/notification-rules/", {"name": "y", "events": ["incident.created"]}), "recipients")
    endpoint = WebhookEndpointFactory()
    assert_400(
        client.post(
            "/api/v1/notification-rules/",
            {"name": "z", "events": ["incident.created"], "channel": "slack", "endpoints": [endpoint.pk]},
        ),
        "endpoints",
    )
    assert api.as_user(reader).get("/api/v1/notification-rules/").status_code == 200
    assert api.as_user(reader).post("/api/v1/notification-rules/", {}).status_code == 403


def test_templates_api_refuses_a_template_that_does_not_compile(api, administrator):
    client = api.as_user(administrator)
    bad = client.post(
        "/api/v1/notification-templates/",
        {"event": "incident.created", "channel": "email", "subject": "ok", "body_text": "{% for %}"},
    )
    assert_400(bad, "body_text")
    assert "Does not compile" in bad.json()["errors"]["body_text"][0]
    good = {"event": "incident.created", "channel": "email", "subject": "{{ subject.number }}", "body_text": "Hi"}
    assert client.post("/api/v1/notification-templates/", good).status_code == 201
    assert client.post("/api/v1/notification-templates/", good).status_code == 409
    assert_400(client.post("/api/v1/notification-templates/", {**good, "channel": "webhook"}), "channel")


def test_patching_a_template_revalidates_it(api, administrator):
    template = NotificationTemplateFactory()
    response = api.as_user(administrator).patch(
        f"/api/v1/notification-templates/{template.pk}/", {"body_html": "{% endblock %}"}
    )
    assert_400(response, "body_html")


def test_event_types(api, reader):
    names = [e["name"] for e in api.as_user(reader).get("/api/v1/event-types/").json()]
    assert "incident.created" in names and "webhook.test" not in names
