"""The Communications pages of the console."""

import pytest
from django.urls import reverse

from communications.models import Notification, NotificationRule, NotificationTemplate, WebhookEndpoint
from communications.services import emit
from tests.communications.factories import NotificationTemplateFactory, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(client, administrator):
    client.force_login(administrator)
    return client


@pytest.fixture
def dead_row(make_user, group):
    make_user(groups=[group])
    row = emit("incident.created", make_subject(group_id=group.pk), {})[0]
    Notification.objects.filter(pk=row.pk).update(status="dead", attempts=8, last_error="boom")
    return row


def test_delivery_log_list_filters_and_detail(console, dead_row):
    url = reverse("admin:communications_notification_changelist")
    assert console.get(url).status_code == 200
    page = console.get(url, {"status__exact": "dead"})
    assert page.status_code == 200 and dead_row.recipient.encode() in page.content
    detail = console.get(reverse("admin:communications_notification_change", args=[dead_row.pk]))
    assert detail.status_code == 200 and b"boom" in detail.content


def test_retry_now_from_the_list_and_from_the_detail_page(console, dead_row, django_capture_on_commit_callbacks):
    url = reverse("admin:communications_notification_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(url, {"action": "retry_selected", "_selected_action": [dead_row.pk]})
    assert response.status_code == 302
    assert Notification.objects.get(pk=dead_row.pk).status == "sent"

    Notification.objects.filter(pk=dead_row.pk).update(status="dead")
    with django_capture_on_commit_callbacks(execute=True):
        response = console.get(reverse("admin:communications_notification_retry_detail", args=[dead_row.pk]))
    assert response.status_code == 302
    assert Notification.objects.get(pk=dead_row.pk).status == "sent"


def test_readers_see_the_log_but_cannot_retry(client, reader, dead_row):
    client.force_login(reader)
    assert client.get(reverse("admin:communications_notification_changelist")).status_code == 200
    response = client.get(reverse("admin:communications_notification_retry_detail", args=[dead_row.pk]))
    assert response.status_code == 403
    assert Notification.objects.get(pk=dead_row.pk).status == "dead"


def test_template_admin_refuses_a_broken_template_and_previews_a_good_one(console):
    add = reverse("admin:communications_notificationtemplate_add")
    assert console.get(add).status_code == 200
    response = console.post(
        add, {"event": "incident.created", "channel": "email", "active": "on", "subject": "x", "body_text": "{% if %}"}
    )
    assert response.status_code == 200 and b"Does not compile" in response.content
    assert not NotificationTemplate.objects.exists()

    template = NotificationTemplateFactory(subject="Preview {{ subject.number }}")
    page = console.get(reverse("admin:communications_notificationtemplate_change", args=[template.pk]))
    assert page.status_code == 200 and b"Preview INC0000123" in page.content and b"Shipped default" in page.content


def test_rule_admin_pages(console):
    rule = NotificationRule.objects.first()
    assert console.get(reverse("admin:communications_notificationrule_changelist")).status_code == 200
    assert console.get(reverse("admin:communications_notificationrule_change", args=[rule.pk])).status_code == 200
    response = console.post(
        reverse("admin:communications_notificationrule_add"),
        {"name": "Nobody", "events": ["incident.created"], "channel": "email", "conditions": "{}"},
    )
    assert response.status_code == 200 and b"Name at least one recipient" in response.content


def test_endpoint_admin_keeps_the_secret_and_sends_a_test(console, private_ok, httpserver):
    endpoint = WebhookEndpointFactory(url=httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("ok")
    change = reverse("admin:communications_webhookendpoint_change", args=[endpoint.pk])
    page = console.get(change)
    assert page.status_code == 200 and endpoint.secret.encode() not in page.content
    response = console.post(
        change,
        {
            "url": endpoint.url,
            "channel": "webhook",
            "description": "renamed",
            "events": ["incident.*"],
            "secret": "",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content
    endpoint.refresh_from_db()
    assert endpoint.description == "renamed" and endpoint.secret.startswith("s3cret")

    response = console.post(
        reverse("admin:communications_webhookendpoint_changelist"),
        {"action": "send_test", "_selected_action": [endpoint.pk]},
    )
    assert response.status_code == 302
    assert Notification.objects.filter(event="webhook.test", endpoint=endpoint).exists()


def test_endpoint_admin_refuses_a_private_url(console):
    response = console.post(
        reverse("admin:communications_webhookendpoint_add"),
        {
            "url": "http://10.0.0.1/x",
            "channel": "webhook",
            "events": ["incident.*"],
            "secret": "x" * 20,
            "active": "on",
        },
    )
    assert response.status_code == 200 and b"private" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_subscription_admin_pages(console):
    assert console.get(reverse("admin:communications_subscription_changelist")).status_code == 200
    assert console.get(reverse("admin:communications_subscription_add")).status_code == 200
