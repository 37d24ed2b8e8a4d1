"""`make run`'s status page: the demo layout shows the active payroll outage, never its internals."""

import io

import pytest
from django.core.management import call_command

from incidents.major.models import MajorIncident
from status.models import StatusPageEntry, StatusPageGroup

pytestmark = pytest.mark.django_db


def test_the_demo_status_page(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    assert StatusPageGroup.objects.count() == 2 and StatusPageEntry.objects.count() == 5
    active = MajorIncident.objects.get(state="active")
    html = client.get("/status/").content.decode()
    assert active.title in html and active.number in html
    assert "Payroll is unavailable. We are investigating" in html
    assert "connection pool did not follow" not in html  # the internal update
    assert active.bridge_url not in html and active.incident.number not in html
    assert "Business applications" in html and 'id="service-payroll" data-level="major_outage"' in html
