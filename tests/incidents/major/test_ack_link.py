"""The signed acknowledge link of a page: no login, GET confirms, POST acknowledges, forgeries refused."""

from urllib.parse import urlsplit

import pytest
from django.core import signing

from communications.models import Notification
from incidents.major import responders
from incidents.major.models import MajorIncident, MajorIncidentEvent, Responder
from itsm import roles
from tests.incidents.major.factories import MajorIncidentFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.incidents.major.urls")]


@pytest.fixture
def page(mim, make_user):
    mi = MajorIncidentFactory(bridge_url="https://meet.example.com/bridge")
    person = make_user(roles.RESOLVER, first_name="Nora", last_name="Network")
    (row,) = responders.page_responders(mi, actor=mim, user=person, role="network")
    return row


def path_of(responder) -> str:
    return urlsplit(responders.acknowledge_url(responder)).path


def test_the_link_in_the_page_is_the_acknowledge_url(page):
    email = Notification.objects.get(event="major_incident.paged", channel="email")
    url = responders.acknowledge_url(page)
    assert url.startswith("http") and "/major-incidents/acknowledge/" in url
    assert url in email.body_text and url in email.body_html


def test_get_shows_a_confirmation_and_acknowledges_nothing(client, page):
    response = client.get(path_of(page))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post">' in html and "Nora Network" in html and page.major_incident.number in html
    assert "network" in html and "https://meet.example.com/bridge" in html
    assert Responder.objects.get(pk=page.pk).acknowledged_at is None


def test_post_acknowledges_without_a_login(client, page):
    response = client.post(path_of(page))
    assert response.status_code == 200 and "Acknowledged" in response.content.decode()
    row = Responder.objects.get(pk=page.pk)
    assert row.acknowledged_at is not None and row.next_page_at is None
    event = MajorIncidentEvent.objects.get(type="acknowledged")
    assert event.actor_id == page.user_id and event.data["via"] == "link"


def test_an_acknowledged_page_says_so(client, page):
    client.post(path_of(page))
    for method in (client.get, client.post):
        response = method(path_of(page))
        assert response.status_code == 200 and "Already acknowledged" in response.content.decode()
    assert MajorIncidentEvent.objects.filter(type="acknowledged").count() == 1


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "FORGED",  # signed with the wrong salt
        "TAMPERED",  # the right token with a changed signature
    ],
)
def test_a_bad_or_forged_token_is_400_and_acknowledges_nothing(client, page, token):
    good = responders.acknowledge_token(page)
    token = {
        "FORGED": signing.Signer(salt="other").sign_object(
            {"r": page.pk, "u": page.user_id, "m": page.major_incident_id}
        ),
        "TAMPERED": good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb"),
    }.get(token, token)
    for method in (client.get, client.post):
        response = method(f"/major-incidents/acknowledge/{token}/")
        assert response.status_code == 400 and "not valid" in response.content.decode()
    assert Responder.objects.get(pk=page.pk).acknowledged_at is None


def test_a_token_for_another_person_or_page_is_404(client, page, make_user):
    for data in (
        {"r": page.pk, "u": make_user().pk, "m": page.major_incident_id},
        {"r": page.pk + 1000, "u": page.user_id, "m": page.major_incident_id},
    ):
        token = signing.Signer(salt=responders.ACKNOWLEDGE_SALT).sign_object(data, compress=True)
        assert client.post(f"/major-incidents/acknowledge/{token}/").status_code == 404
    assert Responder.objects.get(pk=page.pk).acknowledged_at is None


def test_once_the_major_incident_is_over_the_link_acknowledges_nothing(client, page):
    MajorIncident.objects.filter(pk=page.major_incident_id).update(state="resolved")
    response = client.get(path_of(page))
    assert response.status_code == 200 and "No longer needed" in response.content.decode()
    assert client.post(path_of(page)).status_code == 409
    assert Responder.objects.get(pk=page.pk).acknowledged_at is None


def test_a_logged_in_other_user_still_acknowledges_only_the_page_the_link_names(client, page, make_user):
    client.force_login(make_user(roles.READ_ONLY))
    assert client.post(path_of(page)).status_code == 200
    assert MajorIncidentEvent.objects.get(type="acknowledged").actor_id == page.user_id
