"""The major-incidents and problems reports through the API: JSON and CSV for every interval and
grouping they accept, the known answers in the JSON, and the problems report refusing `channel`."""

from __future__ import annotations

import csv
import io

import pytest
from freezegun import freeze_time

from reporting.periods import INTERVALS
from reporting.registry import get
from tests.reporting import test_major, test_problems

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/{}/"


def each_shape(api, name: str, query: dict) -> None:
    """Every interval x grouping (and none) answers the same rows as JSON and as CSV."""
    report = get(name)
    for interval in INTERVALS:
        for group_by in (None, *report.group_bys):
            params = {**query, "interval": interval, **({"group_by": group_by} if group_by else {})}
            body = api.get(URL.format(name), params)
            assert body.status_code == 200, (params, body.content)
            data = body.json()
            assert (data["report"], data["interval"], data["group_by"]) == (name, interval, group_by)
            assert all(list(row) == report.keys for row in data["rows"])
            sheet = api.get(URL.format(name), {**params, "format": "csv"})
            assert sheet.status_code == 200 and sheet["Content-Type"].startswith("text/csv")
            lines = list(csv.reader(io.StringIO(sheet.content.decode())))
            assert lines[0] == report.keys and len(lines) == len(data["rows"]) + 1
            assert [line[0] for line in lines[1:]] == [row["period"] for row in data["rows"]]


def test_major_incidents_json_and_csv(api, administrator):
    test_major.build_history()
    api.as_user(administrator)

    with freeze_time(test_major.NOW):
        monthly = api.get(
            URL.format("major-incidents"), {"from": "2026-01-01", "to": "2026-04-01", "interval": "month"}
        )
        sheet = api.get(
            URL.format("major-incidents"),
            {"from": "2026-01-01", "to": "2026-03-01", "interval": "month", "format": "csv"},
        )
        each_shape(api, "major-incidents", {"from": "2026-01-26", "to": "2026-02-16"})

    assert monthly.json()["rows"] == [test_major.JANUARY, test_major.FEBRUARY, test_major.MARCH]
    lines = list(csv.DictReader(io.StringIO(sheet.content.decode())))
    assert [(line["period"], line["estimated_cost"], line["mean_time_to_restore_seconds"]) for line in lines] == [
        ("2026-01-01", "2000.00", "14400"),
        ("2026-02-01", "3500.00", ""),
    ]


def test_problems_json_and_csv(api, administrator):
    test_problems.build_history()
    api.as_user(administrator)

    monthly = api.get(URL.format("problems"), {"from": "2026-01-01", "to": "2026-03-01", "interval": "month"})
    each_shape(api, "problems", {"from": "2026-01-26", "to": "2026-02-16"})

    assert monthly.json()["rows"] == [test_problems.JANUARY, test_problems.FEBRUARY]


def test_problems_have_no_channel(api, administrator):
    response = api.as_user(administrator).get(URL.format("problems"), {"group_by": "channel"})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "group_by": [
            "'channel' is not a grouping of this report; use one of: priority, service, category, "
            "assignment_group, assignee."
        ]
    }
