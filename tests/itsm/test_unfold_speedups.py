"""itsm.unfold_speedups: change list pages are byte-for-byte what Unfold renders without them."""

import re

import pytest
from django.contrib.admin import helpers
from django.utils import translation
from freezegun import freeze_time
from unfold import admin as unfold_admin
from unfold.templatetags import unfold_list

from incidents import services
from itsm import roles, unfold_speedups
from tests.factories import AssignmentGroupFactory, ServiceFactory, SlaPolicyFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')


def _unfolds_checkbox():
    """Unfold's own widget with the attributes of the patched one."""
    fast = unfold_admin.checkbox
    base = type(fast).__mro__[1]
    assert base.__module__ == "unfold.widgets"
    original = base.__new__(base)
    original.__dict__.update({k: v for k, v in fast.__dict__.items() if k != "_parts"})
    return original


def _without_speedups(monkeypatch) -> None:
    monkeypatch.setattr(unfold_list, "result_headers", unfold_list.result_headers.__wrapped__)
    monkeypatch.setattr(unfold_admin, "checkbox", _unfolds_checkbox())


@pytest.fixture
def console(client, make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    service = ServiceFactory(slug="vpn", owner_group=group)
    SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60)
    SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480)
    with freeze_time("2026-06-03 10:00:00"):
        for n, state in enumerate(["new", "in_progress", "on_hold", "resolved", "closed", "cancelled"]):
            IncidentFactory(actor=agent, service=service, title=f"<b>VPN</b> & co {n}", state=state)
        services.open_incident(actor=agent, title="unassigned", impact=1, urgency=1)
    client.force_login(agent)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/incidents/incident/",
        "/admin/incidents/incident/?state__in=new,in_progress&o=1",
        "/admin/incidents/slaclock/",
        "/admin/itsm/service/",
    ],
)
@pytest.mark.parametrize("language", ["en", "de"])
def test_pages_equal_unfolds_own_rendering(console, monkeypatch, path, language):
    pages = []
    for speedups in (True, False):
        with monkeypatch.context() as m, freeze_time("2026-06-03 12:00:00"), translation.override(language):
            if not speedups:
                _without_speedups(m)
            response = console.get(path, HTTP_ACCEPT_LANGUAGE=language)
            assert response.status_code == 200, path
            pages.append(CSRF.sub(r"\1-\2", response.content.decode()))
    assert pages[0] == pages[1]
    if path.startswith("/admin/incidents/incident/"):  # the pages with bulk actions: a checkbox a row
        assert pages[0].count('name="_selected_action"') >= 2
    assert "<td" in pages[0]  # rows were rendered


def test_row_checkbox_escapes_values_and_falls_back_for_anything_else():
    fast, original = unfold_admin.checkbox, _unfolds_checkbox()
    name = helpers.ACTION_CHECKBOX_NAME
    for value in ("17", '<&">', "x" * 300):
        assert fast.render(name, value) == original.render(name, value)
    for value, attrs in ((1, None), ("", None), ("5", {"id": "x"}), (None, None)):
        assert fast.render(name, value, attrs) == original.render(name, value, attrs)


def test_headers_are_computed_once_per_change_list(console, monkeypatch):
    calls = []
    original = unfold_list.result_headers.__wrapped__

    def counting(cl):
        calls.append(cl)
        return original(cl)

    monkeypatch.setattr(unfold_list, "result_headers", unfold_speedups._memoized_headers(counting))
    assert console.get("/admin/incidents/incident/").status_code == 200
    assert len(calls) == 1  # not once per row (7 rows)
