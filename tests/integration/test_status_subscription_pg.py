"""The status page's double opt-in end to end (PostgreSQL, Redis, a real Celery worker, loopback
SMTP): a visitor subscribes from the page, the worker delivers the confirmation link, nothing
else arrives until it is confirmed; then an external update reaches the subscriber (with the
unsubscribe link) and an internal one never does. The page itself is served from Redis."""

import re
import time
from email import message_from_bytes
from urllib.parse import urlsplit

import pytest

from communications.models import Notification, NotificationRule, Subscription
from incidents.major import updates
from itsm import roles
from status.models import StatusPageEntry, StatusSubscriber
from status.page import subscriptions
from tests.factories import ServiceFactory
from tests.helpers import wait_for
from tests.incidents.major.factories import MajorIncidentFactory

VISITOR = "visitor@partner.example"


@pytest.fixture
def live(transactional_db, worker, smtp):
    NotificationRule.objects.all().delete()  # recipients are exactly the subscriber
    smtp.messages.clear()
    return worker


def mails_to(smtp, address: str) -> list:
    return [m for m in (message_from_bytes(raw) for raw in list(smtp.messages)) if address in (m["To"] or "")]


def text_of(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def test_double_opt_in_then_external_updates_only(live, smtp, client, make_user):
    comms = make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Chris", last_name="Comms", is_staff=True)
    payroll = ServiceFactory(slug="payroll", name="Payroll backend")
    StatusPageEntry.objects.create(service=payroll, public_name="Payroll")
    mi = MajorIncidentFactory(
        title="Payroll unavailable",
        manager=comms,
        comms_lead=comms,
        affected_services=[payroll],
        bridge_url="https://meet.example.com/payroll",
    )

    response = client.post("/status/subscribe/", {"email": VISITOR, "scope": "services", "services": ["payroll"]})
    assert response.status_code == 200
    wait_for(lambda: mails_to(smtp, VISITOR), timeout=30)
    (confirmation,) = mails_to(smtp, VISITOR)
    assert "Confirm" in confirmation["Subject"]
    link = re.search(r"https?://\S+/status/confirm/\S+/", text_of(confirmation)).group(0)

    # Before confirmation nothing else is sent: an external update reaches nobody.
    updates.post_update(mi, actor=comms, audience="external", status="investigating", body="Before confirming.")
    time.sleep(2)
    assert len(mails_to(smtp, VISITOR)) == 1
    assert not Notification.objects.filter(recipient=VISITOR, event="major_incident.update_posted").exists()

    assert client.post(urlsplit(link).path).status_code == 200
    assert StatusSubscriber.objects.get(email=VISITOR).confirmed_at is not None
    (row,) = Subscription.objects.filter(email=VISITOR)
    assert row.service == payroll and row.events == subscriptions.PUBLIC_EVENTS

    updates.post_update(mi, actor=comms, audience="internal", status="identified", body="Internal: pool on db-7.")
    updates.post_update(mi, actor=comms, audience="external", status="identified", body="We found the cause.")
    wait_for(lambda: len(mails_to(smtp, VISITOR)) >= 2, timeout=30)
    time.sleep(1.5)  # room for a stray internal update to show up
    mails = mails_to(smtp, VISITOR)
    assert len(mails) == 2
    text = text_of(mails[1])
    assert "We found the cause." in text and "Unsubscribe:" in text
    for secret in ("Internal: pool", "db-7", "Chris Comms", "meet.example.com", mi.incident.number):
        assert secret not in text
    assert not any("Internal: pool" in text_of(m) for m in mails)

    # The page (cached in Redis) shows the external updates and none of the internal one.
    html = client.get("/status/").content.decode()
    assert "We found the cause." in html and "Internal: pool" not in html
