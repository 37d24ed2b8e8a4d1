"""The major incident workbench on PostgreSQL: the page of a record with 500 linked incidents and
200 updates in the same number of queries as a small one (the merged timeline's UNION ALL read
newest first, the counts by aggregate), its timeline pages, and a transition and a link clicked
through the console."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.major import links
from incidents.major.models import MajorIncident
from incidents.models import Incident
from itsm import roles
from tests.incidents.factories import IncidentFactory
from tests.incidents.major.test_console import big_major_incident

pytestmark = pytest.mark.django_db


def page(mi: MajorIncident, query: str = "") -> str:
    return reverse("admin:incidents_majorincident_change", args=[mi.pk]) + query


def queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def test_workbench_on_postgresql_in_constant_queries(client, make_user, service, django_assert_max_num_queries):
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER, first_name="Maya", last_name="Manager")
    client.force_login(mim)
    small = big_major_incident(mim, service, linked=1, posted=1, paged=1)
    large = big_major_incident(mim, service, linked=500, posted=200, paged=10)
    client.get(page(small))
    few, _ = queries(client, page(small))
    many, html = queries(client, page(large))
    assert many == few
    assert "500 linked besides the primary" in html and "of 200 updates" in html
    with django_assert_max_num_queries(25):
        client.get(page(large, "?tl=3"))
    _, last = queries(client, page(large, "?tl=99"))
    assert 'id="timeline-pages"' in last and "Older" not in last


def test_resolve_with_linked_and_link_by_number_on_postgresql(client, make_user, service):
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    client.force_login(mim)
    mi = big_major_incident(mim, service, linked=0, posted=0, paged=0)
    reports = [IncidentFactory(service=service, title=f"Report {i}") for i in range(3)]
    response = client.post(
        reverse("admin:incidents_majorincident_link", args=[mi.pk]),
        {"link-numbers": " ".join(r.number for r in reports[:2])},
    )
    assert response.status_code == 302
    links.link_incidents(mi, actor=mim, incidents=[reports[2]])
    mi.refresh_from_db()
    response = client.post(
        reverse("admin:incidents_majorincident_transition", args=[mi.pk, "resolve"]),
        {
            "resolve-version": mi.version,
            "resolve-resolve_linked": "on",
            "resolve-resolution_code": "fixed",
            "resolve-resolution_notes": "Certificate renewed.",
        },
    )
    assert response.status_code == 302
    mi.refresh_from_db()
    assert mi.state == "resolved"
    states = set(Incident.objects.filter(major_incident=mi).values_list("state", flat=True))
    assert states == {"resolved"}
