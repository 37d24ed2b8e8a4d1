"""The console's report pages: the API's numbers, the pickers, bad input on the page, permissions."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory

from itsm import admin_navigation, roles
from reporting import registry
from reporting.params import ReportInputError, parse
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, desk):
    client.force_login(desk["agent"])
    return client


def chart(html: str) -> dict:
    (value,) = re.findall(r'<canvas class="chart"[^>]*data-value="([^"]*)"', html)
    return json.loads(unescape(value))


def test_the_index_lists_every_registered_report_in_order(agent_client, stand_ins):
    response = agent_client.get("/admin/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    names = [r.name for r in registry.ordered()]
    assert [e["report"].name for e in response.context["reports"]] == names
    for name in names:
        assert f'href="/admin/reports/{name}/"' in html


@pytest.mark.parametrize("group_by", [None, "service", "priority", "assignment_group", "channel"])
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_a_report_page_shows_the_apis_rows(agent_client, api, desk, interval, group_by):
    query = {"interval": interval, **({"group_by": group_by} if group_by else {})}
    page = agent_client.get("/admin/reports/volume/", query)
    assert page.status_code == 200
    body = api.as_user(desk["agent"]).get("/api/v1/reports/volume/", query).json()
    assert page.context["rows"] == body["rows"]
    assert page.context["form"]["interval"] == interval and page.context["form"]["group_by"] == (group_by or "")
    html = page.content.decode()
    drawn = chart(html)
    assert drawn["labels"] == sorted({r["period"] for r in body["rows"]})
    if group_by:
        groups = {r["group"] if r["group"] is not None else "(none)" for r in body["rows"]}
        assert {d["label"] for d in drawn["datasets"]} == groups
    else:
        assert [d["label"] for d in drawn["datasets"]] == ["Opened", "Resolved", "Backlog at period end"]
        assert sum(drawn["datasets"][0]["data"]) == sum(r["opened"] for r in body["rows"]) == 5
    assert len(re.findall(r"<tr><td>", html)) == len(body["rows"])


def test_the_table_formats_durations_ratios_money_and_gaps():
    from reporting.console import charts
    from reporting.registry import Column, Report

    report = Report(
        name="t",
        title="T",
        description="T",
        columns=(Column("n", "N"), Column("d", "D", "seconds"), Column("r", "R", "ratio"), Column("m", "M", "money")),
        compute=lambda params: [],
    )
    rows = [{"period": "2026-01-05", "group": None, "group_key": None, "n": 3, "d": 7200, "r": 0.5, "m": "12.50"}]
    table = charts.table(report, rows)
    assert table["headers"] == ["Period", "Group", "N", "D", "R", "M"]
    [[period, group, n, duration, ratio, money]] = table["rows"]
    assert (period, group, n, duration) == ("2026-01-05", "—", "3", "2h 00m")
    assert "50" in ratio and "12.50" in money
    [[*_, empty_duration, empty_ratio, _]] = charts.table(report, [{**rows[0], "d": None, "r": None}])["rows"]
    assert empty_duration == empty_ratio == charts.display(None, "seconds")


def test_the_csv_link_is_the_apis_csv_with_the_same_parameters(agent_client):
    query = {"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "group_by": "service"}
    page = agent_client.get("/admin/reports/volume/", query)
    url = page.context["csv_url"]
    assert urlsplit(url).path == "/api/v1/reports/volume/"
    assert parse_qs(urlsplit(url).query) == {**{k: [v] for k, v in query.items()}, "format": ["csv"]}
    assert f'href="{url.replace("&", "&amp;")}"' in page.content.decode()
    csv = agent_client.get(url)  # the console's session authenticates it
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0] == ",".join(registry.get("volume").keys)


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-03-01", "to": "2026-02-01"},
        {"from": "yesterday"},
        {"to": "2026-02-30"},
        {"interval": "hour"},
        {"group_by": "colour"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "bad", "interval": "hour", "group_by": "colour"},
    ],
)
def test_bad_input_shows_the_apis_messages_on_the_page_with_a_400(agent_client, api, desk, query):
    page = agent_client.get("/admin/reports/volume/", query)
    assert page.status_code == 400
    with pytest.raises(ReportInputError) as error:
        parse(query, registry.get("volume").group_bys)
    assert page.context["errors"] == error.value.errors
    api_body = json.dumps(api.as_user(desk["agent"]).get("/api/v1/reports/volume/", query).json())
    html = unescape(page.content.decode())
    for name, messages in error.value.errors.items():
        for message in messages:
            assert message in html and json.dumps(message)[1:-1] in api_body, (name, message)
    assert 'id="report-errors"' in page.content.decode() and "<canvas" not in page.content.decode()


def test_a_report_page_takes_the_reports_queries_and_a_few_more(agent_client, django_assert_max_num_queries):
    agent_client.get("/admin/reports/volume/")
    # session, user, two permission loads, then volume's four grouped counts; the sidebar's own.
    with django_assert_max_num_queries(12):
        assert agent_client.get("/admin/reports/volume/", {"group_by": "service"}).status_code == 200


def test_an_unknown_report_is_404(agent_client):
    assert agent_client.get("/admin/reports/nope/").status_code == 404


def test_reports_need_view_incident(client, desk):
    client.force_login(UserFactory(username="bystander"))  # staff without a role
    assert client.get("/admin/reports/").status_code == 403
    assert client.get("/admin/reports/volume/").status_code == 403


def test_readers_may_read_reports(client, make_user, desk):
    client.force_login(make_user(roles.READ_ONLY, username="reader"))
    assert client.get("/admin/reports/volume/").status_code == 200


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = client.get("/admin/reports/volume/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_sidebar_has_a_reports_section_for_readers_of_incidents(desk):
    request = RequestFactory().get("/admin/")
    request.user = desk["agent"]
    sections = {s["title"]: s for s in admin_navigation.navigation(request)}
    assert [(i["title"], i["link"]) for i in sections["Reports"]["items"]] == [
        ("Dashboard", "/admin/"),
        ("All reports", "/admin/reports/"),
    ]
    request.user = UserFactory(username="bystander")
    assert "Reports" not in {s["title"] for s in admin_navigation.navigation(request)}


def test_the_form_sent_with_empty_fields_means_the_defaults(agent_client):
    # The pickers send every field; "no grouping" is an empty group_by, not an error (the API,
    # where an empty parameter is a mistake, answers 400 instead).
    page = agent_client.get("/admin/reports/volume/", {"from": "", "to": "", "interval": "week", "group_by": ""})
    assert page.status_code == 200
    assert page.context["params"].group_by is None and page.context["params"].interval == "week"
