"""The maintenance console: list, announce and change through the services (errors on the form), cancel."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from itsm import roles
from status.maintenance import demo
from status.models import MaintenanceWindow

pytestmark = pytest.mark.django_db

ADD = "admin:status_maintenancewindow_add"
LIST = "admin:status_maintenancewindow_changelist"


@pytest.fixture
def console(client, administrator):
    client.force_login(administrator)
    return client


def form_data(service, **overrides):
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    end = start + timedelta(hours=2)
    data = {
        "title": "Upgrade",
        "description": "Read-only.",
        "services": [service.pk],
        "starts_at_0": start.strftime("%Y-%m-%d"),
        "starts_at_1": start.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
        "loaded_version": "",
    }
    data.update(overrides)
    return data


def test_add_announces_through_the_service(console, desk):
    _, payroll, _ = desk
    response = console.post(reverse(ADD), form_data(payroll))
    assert response.status_code == 302, response.content.decode()[:2000]
    window = MaintenanceWindow.objects.get()
    assert window.announced_at is not None and list(window.services.all()) == [payroll]
    listing = console.get(reverse(LIST))
    assert listing.status_code == 200 and "Upgrade" in listing.content.decode()


def test_an_end_before_the_start_shows_on_the_form(console, desk):
    _, payroll, _ = desk
    data = form_data(payroll)
    data["ends_at_0"] = data["starts_at_0"]
    data["ends_at_1"] = "00:00:00"
    data["starts_at_1"] = "12:00:00"
    response = console.post(reverse(ADD), data)
    assert response.status_code == 200 and "Must be after starts_at." in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_change_and_cancel(console, desk):
    _, payroll, _ = desk
    console.post(reverse(ADD), form_data(payroll))
    window = MaintenanceWindow.objects.get()
    url = reverse("admin:status_maintenancewindow_change", args=[window.pk])
    assert "Cancel window" in console.get(url).content.decode()
    response = console.post(url, form_data(payroll, title="Bigger", loaded_version="1"))
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.title == "Bigger" and window.version == 2
    stale = console.post(url, form_data(payroll, title="Lost", loaded_version="1"))
    assert stale.status_code == 200 and "changed since you read it" in stale.content.decode()
    console.get(reverse("admin:status_maintenancewindow_cancel_window", args=[window.pk]))
    window.refresh_from_db()
    assert window.state == "cancelled"
    assert "Cancel window" not in console.get(url).content.decode()


def test_an_agent_reads_but_cannot_add(client, make_user, desk):
    client.force_login(make_user(roles.SERVICE_DESK_AGENT))
    assert client.get(reverse(LIST)).status_code == 200
    assert client.get(reverse(ADD)).status_code == 403


def test_demo_seed_schedules_one_window_next_week(administrator, desk):
    _, payroll, _ = desk

    class Ctx:
        services = {"payroll": payroll}
        users = {"admin": administrator}

    window = demo.seed(Ctx)
    assert window.state == "scheduled" and window.starts_at > timezone.now() + timedelta(days=6)
    assert demo.seed(Ctx) == window and MaintenanceWindow.objects.count() == 1
