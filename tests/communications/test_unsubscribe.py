"""Unsubscribe links: signed tokens that work without login."""

import re

import pytest
from django.core import mail

from communications import delivery
from communications.models import Subscription
from communications.services import emit
from communications.signatures import unsubscribe_token
from tests.communications.factories import SubscriptionFactory, make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(service, no_default_rules):
    return SubscriptionFactory(email="stakeholder@example.com", service=service)


def test_subscriber_emails_carry_a_working_unsubscribe_link(client, subscription, service):
    row = emit("incident.created", make_subject(service_id=service.pk), {})[0]
    delivery.deliver(row.pk)
    message = mail.outbox[0]
    url = re.search(r"Unsubscribe: (\S+)", message.body).group(1)
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in message.alternatives[0][0]
    path = url.split("127.0.0.1:8000", 1)[-1]

    page = client.get(path)  # anonymous: no session, no token header
    assert page.status_code == 200 and b"Unsubscribe?" in page.content
    assert Subscription.objects.filter(pk=subscription.pk).exists()  # a GET (mail scanner) changes nothing

    done = client.post(path)
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert not Subscription.objects.filter(pk=subscription.pk).exists()
    assert b"Already unsubscribed" in client.post(path).content
    assert emit("incident.created", make_subject(id=2, service_id=service.pk), {}) == []


def test_one_click_post_from_a_mail_client_needs_no_csrf_token(subscription):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    token = unsubscribe_token(subscription.pk, subscription.email)
    response = client.post(f"/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Subscription.objects.exists()


def test_a_forged_or_tampered_token_does_nothing(client, subscription):
    assert client.post("/unsubscribe/not-a-token/").status_code == 400
    token = unsubscribe_token(subscription.pk, subscription.email)
    assert client.post(f"/unsubscribe/{token[:-2]}xx/").status_code == 400
    assert Subscription.objects.filter(pk=subscription.pk).exists()
