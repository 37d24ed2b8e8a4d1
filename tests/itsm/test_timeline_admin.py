"""The shared read-only timeline inline, on minimal incident admins (tests/itsm/timeline_admin_urls.py)."""

import re

import pytest
from django.contrib.admin.sites import site as product_site
from django.test import RequestFactory

from incidents.choices import TimelineType
from incidents.events import TIMELINE
from incidents.models import Incident, TimelineEvent
from itsm.admin_timeline import TimelineInline, actor_name, compact
from tests.factories import UserFactory
from tests.incidents.factories import IncidentFactory
from tests.itsm.timeline_admin_urls import PER_PAGE, IncidentTimelineInline

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.itsm.timeline_admin_urls")]


@pytest.fixture
def superuser():
    return UserFactory(username="timeline-admin", is_superuser=True, first_name="Ada", last_name="Admin")


@pytest.fixture
def incident(superuser):
    incident = IncidentFactory(title="Mail is slow", actor=superuser)
    for n in range(PER_PAGE + 2):
        TIMELINE.write(
            incident, TimelineType.FIELD_CHANGED, superuser, {"field": "title", "old": f"t{n}", "new": f"t{n + 1}"}
        )
    return incident


def rows(html: str) -> list[str]:
    """The inline's rows, newest first, as the text of their entry cells."""
    return re.findall(r"field-entry_display[^>]*>\s*(?:<[^>]+>\s*)*([^<]*?)\s*<", html)


def test_the_inline_refuses_add_change_and_delete_even_to_a_superuser(superuser, incident):
    request = RequestFactory().get("/")
    request.user = superuser
    inline = IncidentTimelineInline(Incident, product_site)
    assert not inline.has_add_permission(request, incident)
    assert not inline.has_change_permission(request, incident)
    assert not inline.has_delete_permission(request, incident)
    assert inline.has_view_permission(request, incident)
    assert issubclass(IncidentTimelineInline, TimelineInline)


def test_the_page_shows_the_newest_entries_one_page_at_a_time(client, superuser, incident):
    client.force_login(superuser)
    page = client.get(f"/timeline-compact/incidents/incident/{incident.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    shown = rows(html)
    newest = list(TimelineEvent.objects.filter(incident=incident).order_by("-id")[:PER_PAGE])
    assert shown == [compact(e.data) for e in newest]
    assert shown[0] == f"field: title, old: t{PER_PAGE + 1}, new: t{PER_PAGE + 2}"
    assert actor_name(superuser) == "Ada Admin" and "Ada Admin" in html
    # Read-only: no form fields for the entries, no delete boxes, no empty form to add one.
    assert 'name="timeline-0-data"' not in html and "-DELETE" not in html
    assert "timeline-__prefix__" not in html
    total = TimelineEvent.objects.filter(incident=incident).count()
    key = page.context["inline_admin_formsets"][0].formset.get_pagination_key()
    second = client.get(f"/timeline-compact/incidents/incident/{incident.pk}/change/?{key}=2")
    assert len(rows(second.content.decode())) == min(PER_PAGE, total - PER_PAGE)


def test_a_narrated_inline_shows_the_practice_sentences(client, superuser, incident):
    client.force_login(superuser)
    html = client.get(f"/timeline-narrated/incidents/incident/{incident.pk}/change/").content.decode()
    assert rows(html)[0] == f"Title changed from “t{PER_PAGE + 1}” to “t{PER_PAGE + 2}”."


def test_saving_the_record_leaves_the_timeline_alone(client, superuser, incident):
    client.force_login(superuser)
    before = list(TimelineEvent.objects.filter(incident=incident).values_list("id", "data"))
    url = f"/timeline-compact/incidents/incident/{incident.pk}/change/"
    form = client.get(url).context["inline_admin_formsets"][0].formset.management_form
    data = {"title": incident.title, **{f"{form.prefix}-{k}": v for k, v in form.initial.items()}}
    response = client.post(url, data)
    assert response.status_code == 302
    assert list(TimelineEvent.objects.filter(incident=incident).values_list("id", "data")) == before


def test_compact_cuts_long_data():
    assert compact({"a": 1, "b": "x"}) == "a: 1, b: x"
    assert len(compact({"a": "x" * 500})) == 160 and compact({"a": "x" * 500}).endswith("…")
    assert compact(None) == "" and actor_name(None) == "system"
