"""The console's home page: the agent's widgets, the manager's charts, links, permissions, queries."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from freezegun import freeze_time

from incidents.models import Task
from itsm import roles
from problems.models import KnownError
from reporting import registry
from tests.factories import UserFactory
from tests.incidents.factories import IncidentFactory
from tests.problems.factories import ProblemFactory

pytestmark = pytest.mark.django_db

# Queries of the page itself (session, user, permissions, role and group ids) before any widget.
AGENT_QUERIES = 13  # + 5 widgets (2 incident lists, breaching count and list, tasks, MIs) + manager check
MANAGER_QUERIES = 20  # + volume (4), top services, open problems, known errors; stand-ins take none
# With the real reports: + mttr (1), sla-compliance (1), ageing (1), major-incidents (4) when written.
MANAGER_QUERIES_REAL = 30


def widgets(response) -> dict:
    return {w["key"]: w for w in response.context["dashboard"]["agent"]}


def result_count(client, url: str) -> int:
    """How many rows the console list at `url` shows (following the My tasks redirect)."""
    response = client.get(url, follow=True)
    assert response.status_code == 200, url
    return response.context["cl"].result_count


def canvases(html: str) -> dict[str, dict]:
    """The chart cards' canvases: card id -> the Chart.js data the page embeds."""
    found = {}
    for card, value in re.findall(r'id="(chart-[\w-]+)".*?<canvas class="chart"[^>]*data-value="([^"]*)"', html, re.S):
        found[card] = json.loads(unescape(value))
    return found


@pytest.fixture
def tasks(desk):
    agent, network = desk["agent"], desk["network"]
    soon = timezone.now() + dt.timedelta(hours=2)
    mine = Task.objects.create(incident=desk["mine"], title="Call the mail vendor", assignee=agent, due_at=soon)
    group = Task.objects.create(incident=desk["unassigned"], title="Swap the toner", assignment_group=network)
    Task.objects.create(incident=desk["elsewhere"], title="Not ours", assignment_group=desk["other"])
    return [mine, group]


def test_an_agent_sees_their_work_and_every_number_is_the_list_it_links_to(client, desk, tasks):
    client.force_login(desk["agent"])
    response = client.get("/admin/")
    assert response.status_code == 200
    seen = widgets(response)
    assert list(seen) == ["my-open", "groups-unassigned", "breaching", "tasks", "major"]

    assert seen["my-open"]["count"] == 2
    assert [i["text"] for i in seen["my-open"]["items"]] == [
        f"{desk['mine'].number} Mail is down",  # P1 first
        f"{desk['mine_too'].number} Calendar slow",
    ]
    assert seen["groups-unassigned"]["count"] == 1
    assert seen["groups-unassigned"]["items"][0]["text"] == f"{desk['unassigned'].number} Printer offline"
    # The 1 h response clocks of the three open incidents of my group, two of them mine.
    assert seen["breaching"]["count"] == 3
    assert [(p["label"], p["count"]) for p in seen["breaching"]["parts"]] == [
        ("assigned to me", 2),
        ("in my groups", 3),
    ]
    assert len(seen["breaching"]["items"]) == 3
    assert seen["tasks"]["count"] == 2
    assert seen["tasks"]["items"][0]["text"] == "Call the mail vendor"  # due first; undated last
    assert seen["major"]["count"] == 1
    countdown = seen["major"]["items"][0]["countdown"]
    assert countdown["text"].startswith("in 19m") and not countdown["overdue"]

    for key in ("my-open", "groups-unassigned", "tasks", "major"):
        assert result_count(client, seen[key]["url"]) == seen[key]["count"], key
    for part in seen["breaching"]["parts"]:
        assert result_count(client, part["url"]) == part["count"], part["label"]

    html = response.content.decode()
    assert 'id="widget-my-open"' in html and f'href="{seen["my-open"]["url"].replace("&", "&amp;")}"' in html
    assert "countdown.js" in html and 'data-countdown="' in html
    assert response.context["dashboard"]["manager"] is None and 'id="chart-volume"' not in html


def test_an_agent_in_no_group_sees_only_their_own(client, desk, make_user):
    loner = make_user(roles.SERVICE_DESK_AGENT, username="loner", groups=[desk["other"]])
    IncidentFactory(title="Mine alone", service=desk["payroll"], assignee=loner)
    desk["other"].members.remove(loner)  # left the team; the incident is still theirs
    client.force_login(loner)
    seen = widgets(client.get("/admin/"))
    assert seen["my-open"]["count"] == 1
    assert seen["groups-unassigned"]["count"] == 0 and "no assignment group" in seen["groups-unassigned"]["empty"]
    assert seen["groups-unassigned"]["url"] is None  # no list to open
    assert [p["count"] for p in seen["breaching"]["parts"]] == [1, 0]


def test_a_groups_manager_sees_the_charts_each_linking_to_its_report_with_the_same_parameters(client, desk, stand_ins):
    client.force_login(desk["lead"])
    response = client.get("/admin/")
    manager = response.context["dashboard"]["manager"]
    params = manager["period"]
    assert (params.end - params.start).days == 30 and params.interval == "day"
    html = response.content.decode()
    drawn = canvases(html)
    assert set(drawn) == {"chart-volume", "chart-mttr", "chart-sla-compliance", "chart-backlog-ageing"}

    volume = drawn["chart-volume"]
    assert len(volume["labels"]) == 30 and volume["labels"][-1] == params.periods[-1].day.isoformat()
    opened, resolved = volume["datasets"]
    assert (opened["label"], sum(opened["data"]), resolved["label"], sum(resolved["data"])) == (
        "Opened",
        5,
        "Resolved",
        1,
    )
    for chart in manager["charts"]:
        url = urlsplit(chart["url"])
        assert url.path == f"/admin/reports/{chart['key']}/"
        assert parse_qs(url.query) == {k: [v] for k, v in params.query().items()}
        assert client.get(chart["url"]).status_code == 200
        assert f'href="{chart["url"].replace("&", "&amp;")}"' in html
    if "mttr" in stand_ins:
        assert drawn["chart-mttr"]["datasets"][0]["data"][0] == 2.0  # 7,200 s drawn in hours
    if "sla-compliance" in stand_ins:
        assert [d["data"][0] for d in drawn["chart-sla-compliance"]["datasets"]] == [90.0, 75.0]
    ageing = drawn["chart-backlog-ageing"]["datasets"][0]["data"]
    # The stand-in's counts, or the desk's four open incidents, all opened just now.
    assert ageing == ([3, 2, 1, 0, 1] if "ageing" in stand_ins else [4, 0, 0, 0, 0])

    top = manager["top_services"]
    assert [(i["text"], i["count"]) for i in top["items"]] == [("Email", 4), ("Payroll", 1)]
    for item in top["items"]:
        assert result_count(client, item["url"]) == item["count"], item["text"]
    assert parse_qs(urlsplit(top["url"]).query)["group_by"] == ["service"]

    cost = manager["mi_cost"]
    assert urlsplit(cost["url"]).path == "/admin/reports/major-incidents/"
    assert parse_qs(urlsplit(cost["url"]).query)["interval"] == ["month"]
    for month in cost["months"]:
        query = parse_qs(urlsplit(month["url"]).query)
        assert query["from"] == [month["period"]] and client.get(month["url"]).status_code == 200
    if "major-incidents" in stand_ins:
        months = len(cost["months"])
        assert cost["total"] == f"{months * 1250.50:.2f}" and 1 <= months <= 3


def test_open_problems_and_known_errors_by_deflections_link_to_their_lists(client, desk):
    ProblemFactory(title="Mail queue stalls")
    ProblemFactory(title="Printer spooler", state="investigating")
    best = ProblemFactory(title="VPN drops", state="known_error")
    other = ProblemFactory(title="Slow login", state="known_error")
    KnownError.objects.filter(problem=best).update(deflections=7)
    KnownError.objects.filter(problem=other).update(deflections=2)
    client.force_login(desk["lead"])
    manager = client.get("/admin/").context["dashboard"]["manager"]

    problems = manager["problems"]
    assert problems["count"] == 4
    assert [(s["label"], s["count"]) for s in problems["states"]] == [
        ("New", 1),
        ("Investigating", 1),
        ("Known error", 2),
    ]
    assert result_count(client, problems["url"]) == 4
    for state in problems["states"]:
        assert result_count(client, state["url"]) == state["count"]

    known = manager["known_errors"]
    assert known["count"] == 2 and result_count(client, known["url"]) == 2
    assert [(i["text"].split(" ", 1)[1], i["count"]) for i in known["items"]] == [("VPN drops", 7), ("Slow login", 2)]
    assert client.get(known["items"][0]["url"]).status_code == 200


@pytest.mark.parametrize(
    "who",
    ["superuser", roles.ADMINISTRATOR, roles.MAJOR_INCIDENT_MANAGER, roles.PROBLEM_MANAGER, "group manager"],
)
def test_managers_are_these(client, desk, make_user, who):
    if who == "superuser":
        user = UserFactory(username="root", is_superuser=True)
    elif who == "group manager":
        user = desk["lead"]
    else:
        user = make_user(who, username="m")
    client.force_login(user)
    assert client.get("/admin/").context["dashboard"]["manager"] is not None


def test_agents_resolvers_and_readers_are_not_managers(client, desk, make_user):
    for role in (roles.SERVICE_DESK_AGENT, roles.RESOLVER, roles.READ_ONLY):
        client.force_login(make_user(role, username=f"u-{role[:4]}"))
        response = client.get("/admin/")
        assert response.status_code == 200 and response.context["dashboard"]["manager"] is None


def test_a_report_not_registered_yet_is_a_chart_not_shown(client, desk, stand_ins, monkeypatch):
    for name in ("mttr", "sla-compliance", "major-incidents", "backlog"):
        monkeypatch.delitem(registry.REPORTS, name, raising=False)
    monkeypatch.setattr("reporting.dashboard._ageing_function", lambda: None)
    client.force_login(desk["lead"])
    response = client.get("/admin/")
    assert response.status_code == 200
    manager = response.context["dashboard"]["manager"]
    assert [c["key"] for c in manager["charts"]] == ["volume"]
    assert manager["ageing"] is None and manager["mi_cost"] is None
    assert set(canvases(response.content.decode())) == {"chart-volume"}


def test_without_view_incident_no_widget_and_no_chart(client, desk):
    client.force_login(UserFactory(username="bystander"))  # staff, no role
    response = client.get("/admin/")
    assert response.status_code == 200
    assert response.context["dashboard"]["agent"] == [] and response.context["dashboard"]["manager"] is None


def test_the_dashboard_takes_a_fixed_number_of_queries_whatever_the_data(client, desk, tasks, stand_ins):
    def count(user) -> int:
        client.force_login(user)
        client.get("/admin/")  # warm the per-process caches (procache)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/admin/").status_code == 200
        return len(queries)

    before = {"agent": count(desk["agent"]), "lead": count(desk["lead"])}
    for n in range(6):
        incident = IncidentFactory(title=f"More {n}", service=desk["email"], assignee=desk["agent"])
        Task.objects.create(incident=incident, title=f"Task {n}", assignee=desk["agent"])
    after = {"agent": count(desk["agent"]), "lead": count(desk["lead"])}
    assert before == after
    assert after["agent"] <= AGENT_QUERIES
    assert after["lead"] <= MANAGER_QUERIES_REAL
    if stand_ins >= {"mttr", "sla-compliance", "major-incidents", "ageing"}:
        assert after["lead"] <= MANAGER_QUERIES


def test_the_dashboard_is_bounded_in_queries(client, desk, tasks, stand_ins, django_assert_max_num_queries):
    client.force_login(desk["agent"])
    client.get("/admin/")
    with django_assert_max_num_queries(AGENT_QUERIES):
        client.get("/admin/")


def _opened_last_30_days(response) -> int:
    (volume,) = [c for c in response.context["dashboard"]["manager"]["charts"] if c["key"] == "volume"]
    return sum(json.loads(volume["json"])["datasets"][0]["data"])


def test_managers_share_the_figures_for_a_minute_then_see_new_ones(client, desk, settings):
    client.force_login(desk["lead"])
    first = client.get("/admin/")
    assert _opened_last_30_days(first) == 5
    IncidentFactory(title="One more", service=desk["email"])
    assert _opened_last_30_days(client.get("/admin/")) == 5  # the shared copy, computed at most a minute ago
    assert "at most a minute ago" in first.content.decode()
    agent = {w["key"]: w for w in client.get("/admin/").context["dashboard"]["agent"]}
    assert agent["groups-unassigned"]["count"] == 2  # the agent's own lists are always live
    with freeze_time(timezone.now() + dt.timedelta(seconds=61)):
        assert _opened_last_30_days(client.get("/admin/")) == 6


def test_without_a_usable_cache_the_figures_are_computed_live(client, desk, monkeypatch):
    from reporting import dashboard

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(dashboard.cache, "get", broken)
    client.force_login(desk["lead"])
    assert _opened_last_30_days(client.get("/admin/")) == 5
    IncidentFactory(title="One more", service=desk["email"])
    assert _opened_last_30_days(client.get("/admin/")) == 6
