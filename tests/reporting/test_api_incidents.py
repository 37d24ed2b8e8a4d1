"""The incident reports through `GET /api/v1/reports/{name}/`: JSON and CSV, every interval and grouping."""

import csv
import io

import pytest

from reporting import registry
from reporting.params import GROUP_BYS, parse
from tests.reporting.incident_data import sla_desk

pytestmark = pytest.mark.django_db

REPORTS = ["volume", "mtta", "mttr", "sla-compliance", "backlog"]


def test_json_and_csv_of_every_incident_report(api, reader):
    sla_desk()
    client = api.as_user(reader)
    for name in REPORTS:
        report = registry.get(name)
        for interval in ("day", "week", "month"):
            for group_by in (None, *GROUP_BYS):
                query = {"from": "2026-11-23", "to": "2026-12-21", "interval": interval}
                if group_by:
                    query["group_by"] = group_by
                expected = report.compute(parse(query))
                response = client.get(f"/api/v1/reports/{name}/", query)
                assert response.status_code == 200, (name, query, response.content)
                body = response.json()
                assert (body["report"], body["interval"], body["group_by"]) == (name, interval, group_by)
                assert body["rows"] == expected
                assert expected, (name, query)  # the data set has something in every report

                response = client.get(f"/api/v1/reports/{name}/", {**query, "format": "csv"})
                assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
                lines = list(csv.reader(io.StringIO(response.content.decode())))
                assert lines[0] == report.keys
                assert lines[1:] == [["" if row[k] is None else str(row[k]) for k in report.keys] for row in expected]


def test_the_reports_are_registered_in_order():
    assert [r.name for r in registry.ordered() if r.name in REPORTS] == REPORTS
    for name in REPORTS:
        report = registry.get(name)
        assert set(report.chart) <= {c.key for c in report.columns}


@pytest.mark.parametrize("name", ["from", "to", "interval", "group_by"])
def test_an_empty_parameter_is_named_not_defaulted(api, reader, name):
    """`?to=` is not a date, `?group_by=` no grouping the schema lists: 400 naming it (leave it out instead)."""
    client = api.as_user(reader)
    response = client.get("/api/v1/reports/backlog/", {name: ""})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [name]
