"""The report API over every registered report: JSON and CSV for every grouping and interval,
bad parameters named in a 400, unknown reports 404, other methods 405, and who may read."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from itsm import roles
from reporting import registry
from reporting.params import GROUP_BYS
from reporting.periods import INTERVALS
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory, SlaPolicyFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
RANGE = {"from": (TODAY - timedelta(days=40)).isoformat(), "to": (TODAY + timedelta(days=1)).isoformat()}
CASES = [
    (report.name, group_by, interval)
    for report in registry.ordered()
    for group_by in (None, *report.group_bys)
    for interval in INTERVALS
]


@pytest.fixture
def data(make_user):
    agent = make_user(roles.SERVICE_DESK_AGENT, username="desk")
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    service = ServiceFactory(name="Mail", owner_group=group)
    category = CategoryFactory(name="Email")
    SlaPolicyFactory(name="Respond", kind="response", target_minutes=60)
    SlaPolicyFactory(name="Resolve", kind="resolution", target_minutes=480)
    IncidentFactory(title="open", service=service, category=category, channel="email")
    IncidentFactory(title="started", service=service, state="in_progress", assignment_group=group)
    IncidentFactory(title="resolved", service=service, state="resolved", assignment_group=group, channel="phone")
    IncidentFactory(title="cancelled", state="cancelled")
    return agent


def test_every_report_is_in_the_catalogue():
    assert {"volume"} <= set(registry.REPORTS)
    for report in registry.ordered():
        assert report.columns and report.title and report.description
        assert set(report.chart) <= {c.key for c in report.columns}
        assert set(report.group_bys) <= set(GROUP_BYS)


@pytest.mark.parametrize(("name", "group_by", "interval"), CASES)
def test_each_report_as_json_and_csv_for_each_grouping_and_interval(data, api, name, group_by, interval):
    report = registry.get(name)
    client = api.as_user(data)
    query = {**RANGE, "interval": interval, **({"group_by": group_by} if group_by else {})}

    response = client.get(f"/api/v1/reports/{name}/", query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert list(body) == ["report", "from", "to", "interval", "group_by", "rows"]
    assert (body["report"], body["from"], body["to"]) == (name, RANGE["from"], RANGE["to"])
    assert (body["interval"], body["group_by"]) == (interval, group_by)
    rows = body["rows"]
    assert all(list(row) == report.keys for row in rows)
    periods = sorted({row["period"] for row in rows})
    assert not periods or (periods[0] <= RANGE["from"] and periods[-1] < RANGE["to"])
    if group_by is None:
        assert rows, "every period is present, empty ones included"
        assert all(row["group"] is None and row["group_key"] is None for row in rows)
        assert len(rows) == len(periods)
    else:
        assert all(isinstance(row["group"], str) and row["group"] for row in rows)

    by_accept = client.get(f"/api/v1/reports/{name}/", query, HTTP_ACCEPT="text/csv")
    by_format = client.get(f"/api/v1/reports/{name}/", {**query, "format": "csv"})
    for csv_response in (by_accept, by_format):
        assert csv_response.status_code == 200
        assert csv_response["Content-Type"].startswith("text/csv")
        assert "attachment" in csv_response["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(csv_response.content.decode())))
        assert lines[0] == report.keys
        assert len(lines) == len(rows) + 1
        assert [line[0] for line in lines[1:]] == [row["period"] for row in rows]
    assert by_accept.content == by_format.content


def test_csv_cells_match_the_json_rows(data, api):
    client = api.as_user(data)
    rows = client.get("/api/v1/reports/volume/", {**RANGE, "group_by": "service"}).json()["rows"]
    text = client.get("/api/v1/reports/volume/", {**RANGE, "group_by": "service", "format": "csv"}).content.decode()
    for row, line in zip(rows, csv.DictReader(io.StringIO(text)), strict=True):
        assert line == {k: "" if v is None else str(v) for k, v in row.items()}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"from": "2026-02-30"}, ["from"]),
        ({"to": "yesterday"}, ["to"]),
        ({"from": "2026-03-01", "to": "2026-02-01"}, ["from"]),
        ({"from": "2026-03-01", "to": "2026-03-01"}, ["from"]),
        ({"interval": "year"}, ["interval"]),
        ({"group_by": "colour"}, ["group_by"]),
        ({"from": "2020-01-01", "to": "2023-01-01"}, ["from", "to"]),
        ({"from": "0001-01-01"}, ["from"]),
        ({"to": ""}, ["to"]),
        ({"interval": "", "group_by": ""}, ["interval", "group_by"]),
        ({"to": "9999-12-31", "interval": "month"}, ["to"]),
        ({"from": "x", "interval": "y", "group_by": "z"}, ["from", "interval", "group_by"]),
    ],
)
def test_bad_parameters_are_named_in_a_400(data, api, query, named):
    for name in registry.REPORTS:
        response = api.as_user(data).get(f"/api/v1/reports/{name}/", query, HTTP_ACCEPT="text/csv")
        assert response.status_code == 400, (name, response.content)
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["type"] == "validation_error"
        assert sorted(body["errors"]) == sorted(named)


def test_the_maximum_period_depends_on_the_interval(data, api, settings):
    client = api.as_user(data)
    three_years = {"from": "2023-01-01", "to": "2026-01-01"}
    assert client.get("/api/v1/reports/volume/", {**three_years, "interval": "day"}).status_code == 400
    assert client.get("/api/v1/reports/volume/", {**three_years, "interval": "week"}).status_code == 200
    settings.REPORTS_MAX_DAYS = {"week": 30}
    response = client.get("/api/v1/reports/volume/", {**three_years, "interval": "week"})
    assert response.status_code == 400 and "at most 30 days" in response.json()["errors"]["to"][0]


def test_defaults_are_the_last_thirty_days_by_day(data, api):
    body = api.as_user(data).get("/api/v1/reports/volume/").json()
    assert body["to"] == (TODAY + timedelta(days=1)).isoformat()
    assert body["from"] == (TODAY - timedelta(days=29)).isoformat()
    assert (body["interval"], body["group_by"]) == ("day", None)
    assert len(body["rows"]) == 30


def test_an_unknown_report_is_404(data, api):
    response = api.as_user(data).get("/api/v1/reports/happiness/")
    assert response.status_code == 404
    assert "volume" in response.json()["detail"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_reports_are_read_only(data, api, method):
    response = getattr(api.as_user(data), method)("/api/v1/reports/volume/", {})
    assert response.status_code == 405


def test_reports_need_a_login_and_permission_to_view_incidents(data, api, make_user):
    assert api.get("/api/v1/reports/volume/").status_code == 401
    employee = make_user(username="employee")  # no role: a portal user
    assert api.as_user(employee).get("/api/v1/reports/volume/").status_code == 403
    assert api.as_user(make_user(roles.READ_ONLY)).get("/api/v1/reports/volume/").status_code == 200


def test_the_schema_documents_the_reports(api, data):
    from tests.helpers import openapi_schema

    operation = openapi_schema()["paths"]["/api/v1/reports/{name}/"]["get"]
    names = {p["name"]: p for p in operation["parameters"]}
    assert {"name", "from", "to", "interval", "group_by", "format"} <= set(names)
    assert set(names["name"]["schema"]["enum"]) == set(registry.REPORTS)
    assert {"application/json", "text/csv"} <= set(operation["responses"]["200"]["content"])
    assert {"400", "404"} <= set(operation["responses"])
