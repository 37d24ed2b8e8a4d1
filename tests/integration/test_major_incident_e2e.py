"""A major incident run end to end through the API with a real worker (PostgreSQL, Redis): the page
reaches a loopback SMTP server (with its acknowledge link) and a signed webhook receiver, the
responder acknowledges from the link, an external update reaches a service subscriber, and the
cadence reminder written while the broker is down is delivered once it is back, exactly once.
The sweeps also run concurrently on PostgreSQL and act exactly once.

The record is made with the test factory (declared, active): the record's own endpoints are
another helper's; the integrator may switch the first step to `POST /api/v1/major-incidents/`.
"""

import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from email import message_from_bytes
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from communications import services as communications
from communications.models import Notification, NotificationRule, Subscription, WebhookEndpoint
from communications.tasks import sweep_notifications
from incidents.major import responders, updates
from incidents.major.models import MajorIncident, MajorIncidentEvent, Responder
from incidents.major.tasks import sweep_major_incidents
from itsm import roles
from itsm.queue import send_now
from tests.communications.live import Recorder, http_receiver, set_publish_broker
from tests.factories import ServiceFactory
from tests.helpers import run_in_threads, wait_for
from tests.incidents.major.factories import MajorIncidentFactory

SECRET = "major-incident-secret-0123"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens there: every publish fails


@pytest.fixture
def live(transactional_db, worker, smtp, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True  # the receiver is on loopback
    NotificationRule.objects.all().delete()  # recipients are exactly those each step names
    smtp.messages.clear()
    yield worker
    set_publish_broker(None)
    communications.reset_breaker()


@pytest.fixture
def receiver():
    with http_receiver() as server:
        yield server


@pytest.fixture
def team(live, make_user):
    """A declared major incident with its manager, communications lead, a responder to page and a
    subscriber of the affected service."""
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER, email="maya@example.com", first_name="Maya", last_name="Manager")
    comms = make_user(roles.SERVICE_DESK_AGENT, email="chris@example.com", first_name="Chris", last_name="Comms")
    oncall = make_user(roles.RESOLVER, email="nora@example.com", first_name="Nora", last_name="Network")
    payroll = ServiceFactory(slug="payroll", name="Payroll")
    Subscription.objects.create(email="ceo@partner.example", service=payroll)
    mi = MajorIncidentFactory(
        manager=mim,
        comms_lead=comms,
        bridge_url="https://meet.example.com/payroll",
        chat_channel="#inc-payroll",
        affected_services=[payroll],
        update_cadence_minutes=30,
    )
    return {"mi": mi, "mim": mim, "comms": comms, "oncall": oncall}


def mails_to(smtp, address: str) -> list:
    parsed = [message_from_bytes(raw) for raw in list(smtp.messages)]
    return [m for m in parsed if address in (m["To"] or "")]


def text_of(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def test_a_major_incident_pages_acknowledges_and_informs_through_the_real_stack(team, smtp, receiver, api, client):
    mi, mim, comms, oncall = team["mi"], team["mim"], team["comms"], team["oncall"]
    recorder = Recorder()
    receiver.expect_request("/page", method="POST").respond_with_handler(recorder)
    WebhookEndpoint.objects.create(
        url=receiver.url_for("/page"), events=["major_incident.paged"], secret=SECRET, include_internal=True
    )

    # Page a responder: the API answers at once; the worker delivers the email and the webhook.
    response = api.as_user(mim).post(
        f"/api/v1/major-incidents/{mi.number}/responders/", {"user": oncall.pk, "role": "network"}, format="json"
    )
    assert response.status_code == 201, response.json()
    (responder,) = response.json()
    wait_for(lambda: mails_to(smtp, oncall.email) and recorder.requests, timeout=30)
    (page,) = mails_to(smtp, oncall.email)
    assert "PAGE" in page["Subject"] and "as network" in page["Subject"]
    body = text_of(page)
    assert "https://meet.example.com/payroll" in body and "#inc-payroll" in body
    link = re.search(r"https?://\S+/major-incidents/acknowledge/\S+/", body).group(0)
    assert link == responders.acknowledge_url(Responder.objects.get(pk=responder["id"]))

    (headers, raw) = recorder.requests[0]
    mac = hmac.new(SECRET.encode(), f"{headers['X-Itsm-Timestamp']}.".encode() + raw, hashlib.sha256)
    assert headers["X-Itsm-Signature"] == f"sha256={mac.hexdigest()}"
    delivery = json.loads(raw)
    assert delivery["event"] == "major_incident.paged"
    assert delivery["data"]["responder"]["role"] == "network" and delivery["data"]["acknowledge_url"] == link
    assert delivery["data"]["major_incident"]["bridge_url"] == "https://meet.example.com/payroll"

    # Acknowledge from the link, without a login: GET confirms, POST records.
    path = urlsplit(link).path
    assert client.get(path).status_code == 200
    assert Responder.objects.get(pk=responder["id"]).acknowledged_at is None
    assert client.post(path).status_code == 200
    acknowledged = Responder.objects.get(pk=responder["id"])
    assert acknowledged.acknowledged_at is not None and acknowledged.next_page_at is None
    assert "Already acknowledged" in client.get(path).content.decode()
    listed = api.as_user(mim).get(f"/api/v1/major-incidents/{mi.pk}/responders/").json()
    assert listed[0]["acknowledged_at"] is not None

    # An external update reaches the subscriber of the affected service, without internal details.
    posted = api.as_user(comms).post(
        f"/api/v1/major-incidents/{mi.pk}/updates/",
        {"audience": "external", "status": "identified", "body": "The payroll database failed over."},
        format="json",
    )
    assert posted.status_code == 201, posted.json()
    wait_for(lambda: mails_to(smtp, "ceo@partner.example"), timeout=30)
    (update,) = mails_to(smtp, "ceo@partner.example")
    text = text_of(update)
    assert "The payroll database failed over." in text and "Unsubscribe:" in text
    assert "meet.example.com" not in text and "Chris Comms" not in text

    # The worker marks a row sent just after the receiver took it.
    wait_for(lambda: not Notification.objects.filter(status__in=["pending", "sending", "failed", "dead"]).exists())
    noted = MajorIncidentEvent.objects.filter(major_incident=mi, type="notified").count()
    assert noted == Notification.objects.filter(subject_kind="major_incident").exclude(status="suppressed").count()


def test_the_cadence_reminder_survives_a_broker_outage_and_arrives_exactly_once(team, smtp):
    mi, mim, comms = team["mi"], team["mim"], team["comms"]
    due = timezone.now() - timedelta(minutes=2)
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=due)

    set_publish_broker(DEAD_BROKER)  # the sweep runs, but nothing it hands over reaches a worker
    assert sweep_major_incidents() == {"repaged": 0, "update_reminders": 1}
    reminders = Notification.objects.filter(event="major_incident.update_overdue")
    assert set(reminders.values_list("recipient", flat=True)) == {comms.email, mim.email}
    assert set(reminders.values_list("status", flat=True)) == {"pending"}
    assert MajorIncident.objects.get(pk=mi.pk).update_reminded_for == due
    time.sleep(1)
    assert smtp.messages == []
    assert sweep_major_incidents()["update_reminders"] == 0  # the same overdue period: never twice

    set_publish_broker(None)  # the broker is back: the notification sweep hands the rows over
    assert send_now(sweep_notifications)
    wait_for(lambda: set(reminders.values_list("status", flat=True)) == {"sent"}, timeout=30)
    assert sweep_major_incidents()["update_reminders"] == 0
    assert send_now(sweep_notifications)  # finds nothing more to hand over
    time.sleep(1.5)  # room for a duplicate to show up

    for person in (comms, mim):
        (message,) = mails_to(smtp, person.email)
        assert "OVERDUE" in message["Subject"]
    assert sorted(smtp.message_ids()) == sorted(f"<{n.delivery_id}@localhost>" for n in reminders)
    assert set(reminders.values_list("attempts", flat=True)) == {1}
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="update_overdue").count() == 1


def test_concurrent_sweeps_re_page_and_remind_exactly_once(team):
    mi, mim, oncall = team["mi"], team["mim"], team["oncall"]
    (row,) = responders.page_responders(mi, actor=mim, user=oncall)
    now = timezone.now() + timedelta(hours=1)
    MajorIncident.objects.filter(pk=mi.pk).update(next_update_due_at=now - timedelta(minutes=1))
    Responder.objects.filter(pk=row.pk).update(next_page_at=now - timedelta(minutes=1))

    results = run_in_threads(6, lambda i: (responders.repage_due(now), updates.remind_overdue_updates(now)))
    assert all(isinstance(r, tuple) for r in results), results
    assert sum(r[0] for r in results) == 1 and sum(r[1] for r in results) == 1
    assert Responder.objects.get(pk=row.pk).page_count == 2
    assert Notification.objects.filter(event="major_incident.paged", channel="email").count() == 2
    assert Notification.objects.filter(event="major_incident.update_overdue").count() == 2  # manager + comms lead
    assert MajorIncidentEvent.objects.filter(major_incident=mi, type="update_overdue").count() == 1
