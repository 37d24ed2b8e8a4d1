"""Public subscriptions: double opt-in through the outbox, signed expiring links, 400s write nothing."""

import re
from unittest import mock

import pytest
from django.core import signing

from communications.models import Notification, Subscription
from status.models import StatusPageEntry, StatusSubscriber
from status.page import subscriptions
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def confirm_link(notification: Notification) -> str:
    return re.search(r"https?://\S+(/status/confirm/\S+/)", notification.body_text).group(1)


def subscribe(client, email="visitor@example.org", scope="all", services=(), capture=None):
    return client.post("/status/subscribe/", {"email": email, "scope": scope, "services": list(services)})


def nothing_written():
    assert not StatusSubscriber.objects.exists()
    assert not Notification.objects.exists()
    assert not Subscription.objects.exists()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"email": "not-an-address", "scope": "all"}, "not-an-address is not a valid email address"),
        ({"email": "", "scope": "all"}, "not a valid email address"),
        ({"email": "a@example.org", "scope": "services", "services": ["nope"]}, "Unknown service: nope"),
        ({"email": "a@example.org", "scope": "services"}, "Choose at least one service"),
        ({"email": "a@example.org", "scope": "everything"}, "Choose the whole page or some services"),
    ],
)
def test_bad_input_is_a_400_page_naming_the_problem_and_writes_nothing(client, payroll, data, named):
    response = client.post("/status/subscribe/", data)
    assert response.status_code == 400
    assert named in response.content.decode()
    nothing_written()


def test_a_hidden_service_cannot_be_chosen(client, payroll):
    secret = ServiceFactory(slug="secret")
    StatusPageEntry.objects.create(service=secret, hidden=True)
    response = subscribe(client, scope="services", services=["secret"])
    assert response.status_code == 400 and "Unknown service: secret" in response.content.decode()
    nothing_written()


def test_subscribing_queues_one_confirmation_email_and_no_subscription(
    client, payroll, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = subscribe(client, "Visitor@Example.org", scope="services", services=["payroll"])
    assert response.status_code == 200 and "visitor@example.org" in response.content.decode()
    subscriber = StatusSubscriber.objects.get()
    assert subscriber.email == "visitor@example.org" and subscriber.confirmed_at is None
    assert list(subscriber.services.all()) == [payroll] and not subscriber.all_services
    (mail,) = Notification.objects.all()
    assert mail.event == "status.subscription_confirm" and mail.recipient == "visitor@example.org"
    assert mail.public and "/status/confirm/" in mail.body_text and "/status/confirm/" in mail.body_html
    assert "Payroll" in mail.body_text and "3 days" in mail.body_text
    assert not Subscription.objects.exists()  # nothing else is sent until confirmed


def test_confirming_writes_one_subscription_per_chosen_service(client, payroll, email_service):
    subscribe(client, scope="services", services=["payroll"])
    link = confirm_link(Notification.objects.get())
    page = client.get(link)
    assert page.status_code == 200 and "Confirm subscription" in page.content.decode()
    assert StatusSubscriber.objects.get().confirmed_at is None  # a GET (a mail scanner) confirms nothing
    response = client.post(link)
    assert response.status_code == 200 and "Subscription confirmed" in response.content.decode()
    assert StatusSubscriber.objects.get().confirmed_at is not None
    (row,) = Subscription.objects.all()
    assert (row.email, row.service, row.events) == ("visitor@example.org", payroll, subscriptions.PUBLIC_EVENTS)
    client.post(link)  # twice: nothing more
    assert Subscription.objects.count() == 1


def test_the_whole_page_subscribes_to_every_public_service(client, payroll, email_service):
    hidden = ServiceFactory()
    StatusPageEntry.objects.create(service=hidden, hidden=True)
    subscribe(client)
    client.post(confirm_link(Notification.objects.get()))
    assert set(Subscription.objects.values_list("service", flat=True)) == {payroll.pk, email_service.pk}


def test_a_confirmed_subscriber_keeps_its_services_until_the_new_choice_is_confirmed(client, payroll, email_service):
    subscribe(client, scope="services", services=["payroll"])
    client.post(confirm_link(Notification.objects.get()))
    subscribe(client, scope="services", services=["email"])
    assert list(Subscription.objects.values_list("service", flat=True)) == [payroll.pk]
    second = Notification.objects.order_by("-id").first()
    client.post(confirm_link(second))
    assert list(Subscription.objects.values_list("service", flat=True)) == [email_service.pk]


@pytest.mark.parametrize("damage", ["tampered", "expired", "other salt", "garbage"])
def test_a_tampered_or_expired_link_is_a_plain_400_and_writes_nothing(client, payroll, damage):
    subscribe(client)
    link = confirm_link(Notification.objects.get())
    token = link.split("/")[-2]
    if damage == "tampered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif damage == "other salt":
        token = signing.dumps({"id": StatusSubscriber.objects.get().pk, "e": "visitor@example.org", "a": True})
    elif damage == "garbage":
        token = "nothing-signed-here"
    url = f"/status/confirm/{token}/"
    if damage == "expired":
        url = link
        with mock.patch("django.core.signing.time.time", return_value=4_000_000_000):
            responses = [client.get(url), client.post(url)]
    else:
        responses = [client.get(url), client.post(url)]
    for response in responses:
        assert response.status_code == 400
        assert "damaged or has expired" in response.content.decode()
    assert StatusSubscriber.objects.get().confirmed_at is None
    assert not Subscription.objects.exists()


def test_the_subscriber_unsubscribes_from_everything_with_its_link(client, payroll, email_service):
    subscribe(client)
    response = client.post(confirm_link(Notification.objects.get()))
    link = re.search(r'href="(/status/unsubscribe/[^"]+/)"', response.content.decode()).group(1)
    Subscription.objects.create(email="visitor@example.org", subject_kind="major_incident", subject_id=1)
    assert Subscription.objects.count() == 3
    assert client.get(link).status_code == 200 and Subscription.objects.count() == 3
    assert client.post(link).status_code == 200
    assert list(Subscription.objects.values_list("subject_kind", flat=True)) == ["major_incident"]  # not ours
    assert StatusSubscriber.objects.get().unsubscribed_at is not None
    assert client.post(link[:-4] + "xyz/").status_code == 400


def test_messages_to_subscribers_carry_the_communications_unsubscribe_link(
    client, outage, mim, django_capture_on_commit_callbacks
):
    from incidents.major import updates

    subscribe(client)
    client.post(confirm_link(Notification.objects.get()))
    updates.post_update(outage, actor=mim, audience="internal", status="identified", body="Internal only.")
    updates.post_update(outage, actor=mim, audience="external", status="identified", body="Public words.")
    delivered = Notification.objects.filter(recipient="visitor@example.org", event="major_incident.update_posted")
    (mail,) = delivered
    assert "Public words." in mail.body_text and "Internal only." not in mail.body_text
    unsubscribe = re.search(r"Unsubscribe: https?://\S+(/unsubscribe/\S+/)", mail.body_text).group(1)
    assert client.post(unsubscribe).status_code == 200
    assert not Subscription.objects.filter(service=outage.affected_services.get()).exists()


def test_the_admin_lists_subscribers_read_only_and_deletes_them_with_their_subscriptions(
    client, administrator, payroll
):
    subscribe(client)
    client.post(confirm_link(Notification.objects.get()))
    subscriber = StatusSubscriber.objects.get()
    client.force_login(administrator)
    assert client.get("/admin/status/statussubscriber/").status_code == 200
    assert client.get("/admin/status/statuspagegroup/").status_code == 200
    assert client.get("/admin/status/statuspageentry/").status_code == 200
    assert client.get("/admin/status/statussubscriber/add/").status_code == 403
    response = client.post(f"/admin/status/statussubscriber/{subscriber.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not StatusSubscriber.objects.exists() and not Subscription.objects.exists()


def test_the_same_request_twice_within_minutes_sends_one_email(client, payroll, email_service):
    subscribe(client)
    subscribe(client)
    assert Notification.objects.count() == 1
    subscribe(client, scope="services", services=["email"])  # a different choice: a new link
    assert Notification.objects.count() == 2
    assert list(StatusSubscriber.objects.get().services.all()) == [email_service]


def test_head_requests_are_served(client, payroll):
    assert client.head("/status/").status_code == 200
    assert client.post("/status/").status_code == 405
