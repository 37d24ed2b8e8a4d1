"""Console pages of alert ingestion: alert routes (administrators edit), alert state and inbound email (read-only).

`incidents.admin` wires `incidents.alerts.admin` in; this module imports it itself and serves the
admin from its own URLconf, so the pages are tested whatever the import order.
"""

import pytest
from django.contrib import admin
from django.urls import path, reverse

import incidents.alerts.admin  # noqa: F401  (registers the pages)
from incidents.alerts import services as alerts
from incidents.models import AlertRoute, InboundMessage
from itsm import roles

pytestmark = pytest.mark.django_db

urlpatterns = [path("admin/", admin.site.urls)]


@pytest.fixture(autouse=True)
def _admin_urls(settings):
    settings.ROOT_URLCONF = __name__


@pytest.fixture
def browser(client, administrator):
    client.force_login(administrator)
    return client


def test_administrators_add_an_alert_route(browser, service, group):
    url = reverse("admin:incidents_alertroute_add")
    assert browser.get(url).status_code == 200

    response = browser.post(
        url,
        {
            "service": service.pk,
            "assignment_group": group.pk,
            "on_resolve": "annotate",
            "severity_map": '{"warning": {"impact": 1, "urgency": 1}}',
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    route = AlertRoute.objects.get()
    assert route.on_resolve == "annotate" and route.severity_map == {"warning": {"impact": 1, "urgency": 1}}
    listing = browser.get(reverse("admin:incidents_alertroute_changelist"))
    assert listing.status_code == 200 and b"warning: I1/U1" in listing.content


def test_a_bad_severity_map_is_refused_in_the_form(browser, service):
    response = browser.post(
        reverse("admin:incidents_alertroute_add"),
        {"service": service.pk, "on_resolve": "resolve", "severity_map": '{"fatal": {"impact": 1, "urgency": 1}}'},
    )
    assert response.status_code == 200 and b"is not a severity" in response.content
    assert AlertRoute.objects.count() == 0


def test_alert_state_and_inbound_email_are_read_only_lists(browser, make_user):
    integration = make_user(roles.INTEGRATION)
    result = alerts.ingest_event(integration, action="trigger", dedup_key="disk", summary="Disk", severity="info")
    InboundMessage.objects.create(message_id="<m@x>", channel="api", sender="a@x", outcome="ignored", reason="bulk")

    alerts_page = browser.get(reverse("admin:incidents_incidentalert_changelist"))
    assert alerts_page.status_code == 200 and result.incident.number.encode() in alerts_page.content
    email_page = browser.get(reverse("admin:incidents_inboundmessage_changelist"))
    assert email_page.status_code == 200 and b"bulk" in email_page.content
    assert browser.get(reverse("admin:incidents_inboundmessage_add")).status_code == 403


def test_agents_see_routes_but_do_not_change_them(client, make_user, service):
    AlertRoute.objects.create(service=service)
    client.force_login(make_user(roles.SERVICE_DESK_AGENT))
    assert client.get(reverse("admin:incidents_alertroute_changelist")).status_code == 200
    assert client.get(reverse("admin:incidents_alertroute_add")).status_code == 403
