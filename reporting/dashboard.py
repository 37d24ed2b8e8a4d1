"""The console's home page: Unfold's `DASHBOARD_CALLBACK` (settings UNFOLD) fills the context.

Agents see their work: my open incidents, my groups' unassigned, breaching within the hour, my
tasks, active major incidents and their next-update countdown. Managers (superusers, ITSM
Administrators, Major Incident and Problem Managers, a group's manager) who may read incidents
also see the charts and tables of the last 30 days.

Speed: each list widget is one query, its total a window count over the same rows
(`COUNT(*) OVER ()`) with a LIMITed list; the breaching widget is a count and a list. The charts
come from the reports' own `compute` (the numbers of their report pages and the API). Every
number links to the list it counts, every chart to its report page with the same parameters.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Q, Window
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from incidents.choices import OPEN_STATES
from incidents.major.choices import MajorIncidentState
from incidents.models import ClockStage, Incident, MajorIncident, SlaClock, Task
from incidents.response.choices import OPEN_TASK_STATES
from itsm import roles
from itsm.models import AssignmentGroup
from problems.choices import OPEN_STATES as PROBLEM_OPEN_STATES
from problems.choices import KnownErrorState, ProblemState
from problems.models import KnownError, Problem
from reporting import registry
from reporting.console import charts
from reporting.console.views import can_read_reports, report_url
from reporting.params import ReportParams, parse, today
from reporting.periods import report_tz

logger = logging.getLogger(__name__)
LIST_SIZE = 5
MANAGER_CACHE_SECONDS = 60  # default of settings.REPORTS_DASHBOARD_CACHE_SECONDS
STALE_SECONDS = 300  # an expired copy is still served for this long while one request rebuilds it
LOCK_SECONDS = 30
BREACH_WINDOW = dt.timedelta(hours=1)
MANAGER_ROLES = (roles.ADMINISTRATOR, roles.MAJOR_INCIDENT_MANAGER, roles.PROBLEM_MANAGER)
AGEING = (
    ("age_under_1d", "< 1 day"),
    ("age_1_3d", "1–3 days"),
    ("age_3_7d", "3–7 days"),
    ("age_7_30d", "7–30 days"),
    ("age_over_30d", "> 30 days"),
)
# The 30-day charts: (report, columns drawn, card title).
CHARTS = (
    ("volume", ("opened", "resolved"), "Incident volume, last 30 days"),
    ("mttr", ("mttr_seconds",), "Mean time to resolve (hours), last 30 days"),
    ("sla-compliance", ("response_compliance", "resolution_compliance"), "SLA compliance (%), last 30 days"),
)


def _changelist(name: str, query: list[tuple[str, object]] | None = None) -> str:
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(query)}" if query else url


def _open_states() -> list[tuple[str, str]]:
    return [("state__exact", str(s)) for s in OPEN_STATES]


def _windowed(qs, fields: list[str], order: list) -> tuple[int, list[dict]]:
    """The first LIST_SIZE rows of `qs` and the total, in one query (a window count)."""
    rows = list(qs.annotate(total=Window(Count("id"))).order_by(*order).values(*fields, "total")[:LIST_SIZE])
    return (rows[0]["total"] if rows else 0), rows


def countdown(due: dt.datetime | None, now: dt.datetime) -> dict:
    """`{"text", "overdue", "iso"}` for a next-update due time (the page's script keeps it ticking)."""
    if due is None:
        return {"text": "no update due", "overdue": False, "iso": ""}
    seconds = int((due - now).total_seconds())
    minutes, rest = divmod(abs(seconds), 60)
    text = f"{minutes}m {rest:02d}s"
    return {
        "text": f"overdue by {text}" if seconds < 0 else f"in {text}",
        "overdue": seconds < 0,
        "iso": due.isoformat(),
    }


def my_open_incidents(user) -> dict:
    """Open incidents assigned to the user, highest priority first."""
    total, rows = _windowed(
        Incident.objects.open().filter(assignee=user), ["id", "number", "title", "priority"], ["priority", "-id"]
    )
    return {
        "key": "my-open",
        "title": "My open incidents",
        "count": total,
        "url": _changelist("incidents_incident", [("queue", "mine"), *_open_states()]),
        "items": [_incident_item(r, f"P{r['priority']}") for r in rows],
        "empty": "Nothing assigned to you.",
    }


def my_groups_unassigned(user, group_ids: set[int]) -> dict:
    """Open, unassigned incidents of the user's groups, oldest-numbered last."""
    total, rows = 0, []
    if group_ids:
        total, rows = _windowed(
            Incident.objects.open().filter(assignee__isnull=True, assignment_group_id__in=group_ids),
            ["id", "number", "title", "priority"],
            ["-id"],
        )
    return {
        "key": "groups-unassigned",
        "title": "My groups' unassigned",
        "count": total,
        "url": _changelist(
            "incidents_incident",
            [
                ("queue", "unassigned"),
                ("assignment_group__id__in", ",".join(str(i) for i in sorted(group_ids))),
                *_open_states(),
            ],
        )
        if group_ids
        else None,
        "show_count": True,
        "items": [_incident_item(r, f"P{r['priority']}") for r in rows],
        "empty": "No unassigned incidents in your groups." if group_ids else "You are in no assignment group.",
    }


def breaching_soon(user, group_ids: set[int], now: dt.datetime) -> dict:
    """Running SLA clocks due within the hour on open incidents that are mine or my groups'.

    The counts are incidents (as the linked lists count them), split into assigned to me and in
    my groups (an incident can be both); the list shows the soonest clocks.
    """
    clocks = SlaClock.objects.filter(
        stage=ClockStage.RUNNING,
        stopped_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + BREACH_WINDOW,
        incident__state__in=OPEN_STATES,
    ).filter(Q(incident__assignee=user) | Q(incident__assignment_group_id__in=group_ids))
    counts = clocks.aggregate(
        total=Count("incident", distinct=True),
        mine=Count("incident", distinct=True, filter=Q(incident__assignee=user)),
        groups=Count("incident", distinct=True, filter=Q(incident__assignment_group_id__in=group_ids)),
    )
    rows = []
    if counts["total"]:
        rows = list(
            clocks.order_by("due_at", "id").values(
                "kind", "due_at", "incident_id", number=F("incident__number"), title=F("incident__title")
            )[:LIST_SIZE]
        )
        for row in rows:
            row["id"] = row["incident_id"]
    sla = [("sla", "due_1h"), *_open_states()]
    return {
        "key": "breaching",
        "title": "Breaching within the hour",
        "count": counts["total"],
        "url": None,
        "parts": [
            {
                "label": "assigned to me",
                "count": counts["mine"],
                "url": _changelist("incidents_incident", [*sla, ("queue", "mine")]),
            },
            {
                "label": "in my groups",
                "count": counts["groups"],
                "url": _changelist("incidents_incident", [*sla, ("queue", "my_groups")]),
            },
        ],
        "items": [
            _incident_item(r, f"{r['kind']} in {max(0, int((r['due_at'] - now).total_seconds()) // 60)} min")
            for r in rows
        ],
        "empty": "Nothing of yours breaches within the hour.",
    }


def my_tasks(user, group_ids: set[int]) -> dict:
    """Open tasks assigned to me or my groups, soonest due first (the "My tasks" list)."""
    total, rows = _windowed(
        Task.objects.filter(Q(assignee=user) | Q(assignment_group_id__in=group_ids), state__in=OPEN_TASK_STATES),
        ["id", "title", "due_at"],
        [F("due_at").asc(nulls_last=True), "id"],
    )
    now = timezone.now()
    return {
        "key": "tasks",
        "title": "My tasks",
        "count": total,
        "url": reverse("admin:incidents_task_mine"),
        "items": [
            {
                "text": r["title"],
                "url": reverse("admin:incidents_task_change", args=[r["id"]]),
                "meta": ("overdue" if r["due_at"] < now else "due " + _local(r["due_at"])) if r["due_at"] else "",
            }
            for r in rows
        ],
        "empty": "No open tasks for you or your groups.",
    }


def active_major_incidents(now: dt.datetime) -> dict:
    """Active major incidents, the next stakeholder update soonest first, with its countdown."""
    total, rows = _windowed(
        MajorIncident.objects.filter(state=MajorIncidentState.ACTIVE),
        ["id", "number", "title", "next_update_due_at"],
        [F("next_update_due_at").asc(nulls_last=True), "id"],
    )
    return {
        "key": "major",
        "title": "Active major incidents",
        "count": total,
        "url": _changelist("incidents_majorincident", [("state__exact", MajorIncidentState.ACTIVE.value)]),
        "items": [
            {
                "text": f"{r['number']} {r['title']}",
                "url": reverse("admin:incidents_majorincident_change", args=[r["id"]]),
                "countdown": countdown(r["next_update_due_at"], now),
            }
            for r in rows
        ],
        "empty": "No active major incident.",
    }


def _incident_item(row: dict, meta: str) -> dict:
    return {
        "text": f"{row['number']} {row['title']}",
        "url": reverse("admin:incidents_incident_change", args=[row["id"]]),
        "meta": meta,
    }


def _local(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%d %b %H:%M")


def is_manager(user) -> bool:
    """Superusers, administrators, major incident and problem managers, and groups' managers."""
    if roles.has_role(user, *MANAGER_ROLES):
        return True
    return AssignmentGroup.objects.filter(manager=user).exists()


def last_30_days() -> ReportParams:
    """The dashboard's period: the reports' default (30 days up to and including today, by day)."""
    return parse({})


def this_quarter() -> ReportParams:
    """From the first day of this quarter up to and including today, by month."""
    day = today()
    start = dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return parse({"from": start.isoformat(), "to": (day + dt.timedelta(days=1)).isoformat(), "interval": "month"})


def report_chart(name: str, keys: tuple[str, ...], title: str, params: ReportParams) -> dict | None:
    """A 30-day chart from report `name`'s compute; None while that report is not registered."""
    report = registry.get(name)
    if report is None:
        return None
    data = charts.chart_data(report, report.compute(params), keys)
    if data is None:
        return None
    return {
        "key": name,
        "title": title,
        "type": report.chart_type,
        "json": charts.to_json(data),
        "legend": charts.legend(data),
        "url": report_url(name, params.query()),
    }


def _ageing_function() -> Callable | None:
    try:
        module = importlib.import_module("reporting.incidents.backlog")
    except ImportError:
        return None
    return getattr(module, "ageing_at", None)


def backlog_ageing(now: dt.datetime, params: ReportParams) -> dict | None:
    """The open incidents now by age (`reporting.incidents.backlog.ageing_at`, one query), as a bar chart."""
    ageing_at = _ageing_function()
    if ageing_at is None:
        return None
    result = ageing_at(now)
    # One row when not grouped: a dict, or a list of one {"group": None, ...} row.
    row = (result[0] if result else {}) if isinstance(result, list) else result
    data = {
        "labels": [label for _, label in AGEING],
        "datasets": [charts.dataset("Open incidents", [row.get(key) or 0 for key, _ in AGEING], 0, "bar", "count")],
    }
    return {
        "key": "backlog-ageing",
        "title": "Backlog ageing, now",
        "type": "bar",
        "json": charts.to_json(data),
        "legend": charts.legend(data),
        "url": report_url("backlog", params.query()) if registry.get("backlog") else None,
        "total": sum(row.get(key) or 0 for key, _ in AGEING),
    }


def top_services(params: ReportParams) -> dict:
    """The services with the most incidents opened in the period (one grouped, LIMITed query)."""
    rows = list(
        Incident.objects.filter(opened_at__gte=params.start_at, opened_at__lt=params.end_at)
        .values("service_id", name=F("service__name"))
        .annotate(n=Count("id"))
        .order_by("-n", "name")[:LIST_SIZE]
    )
    opened = [
        ("opened_at_from_0", params.start.isoformat()),
        ("opened_at_to_0", (params.end - dt.timedelta(days=1)).isoformat()),
    ]
    top = max((r["n"] for r in rows), default=0)
    items = []
    for r in rows:
        service = [("service__id__exact", r["service_id"])] if r["service_id"] else [("service__isnull", "True")]
        items.append(
            {
                "text": r["name"] or "(no service)",
                "count": r["n"],
                "url": _changelist("incidents_incident", [*service, *opened]),
                "width": round(100 * r["n"] / top) if top else 0,
            }
        )
    volume = registry.get("volume")
    return {
        "key": "top-services",
        "title": "Top services by incidents, last 30 days",
        "items": items,
        "url": report_url("volume", {**params.query(), "group_by": "service"}) if volume else None,
        "empty": "No incident opened in the last 30 days.",
    }


def major_incident_cost(params: ReportParams) -> dict | None:
    """The estimated cost of major incidents this quarter (report `major-incidents`)."""
    report = registry.get("major-incidents")
    if report is None:
        return None
    months = []
    total = Decimal("0")
    for row in report.compute(params):
        try:
            cost = Decimal(str(row.get("estimated_cost") or 0))
        except InvalidOperation:
            cost = Decimal("0")
        total += cost
        start = dt.date.fromisoformat(row["period"])
        end = min(params.end, (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1))
        query = {"from": start.isoformat(), "to": end.isoformat(), "interval": "month"}
        months.append({"period": row["period"], "cost": f"{cost:.2f}", "url": report_url(report.name, query)})
    return {
        "key": "mi-cost",
        "title": "Major incident cost, this quarter",
        "total": f"{total:.2f}",
        "months": months,
        "url": report_url(report.name, params.query()),
    }


def open_problems() -> dict:
    """Open problems by state (one grouped count)."""
    counts = dict(
        Problem.objects.filter(state__in=PROBLEM_OPEN_STATES).values_list("state").annotate(n=Count("id")).order_by()
    )
    states = [
        {
            "label": ProblemState(state).label,
            "count": counts.get(state, 0),
            "url": _changelist("problems_problem", [("state__exact", str(state))]),
        }
        for state in PROBLEM_OPEN_STATES
    ]
    return {
        "key": "problems",
        "title": "Open problems",
        "count": sum(counts.values()),
        "url": _changelist("problems_problem", [("state__exact", str(s)) for s in PROBLEM_OPEN_STATES]),
        "states": states,
    }


def known_errors_by_deflections() -> dict:
    """Published known errors with the most deflections (the stored counter), and how many are published."""
    total, rows = _windowed(
        KnownError.objects.filter(state=KnownErrorState.PUBLISHED),
        ["id", "title", "deflections", "problem__number"],
        ["-deflections", "-id"],
    )
    return {
        "key": "known-errors",
        "title": "Known errors by deflections",
        "count": total,
        "url": _changelist("problems_knownerror", [("state__exact", KnownErrorState.PUBLISHED.value)]),
        "items": [
            {
                "text": f"{r['problem__number']} {r['title']}",
                "url": reverse("admin:problems_knownerror_change", args=[r["id"]]),
                "count": r["deflections"],
            }
            for r in rows
        ],
        "empty": "No published known error.",
    }


def agent_widgets(user, now: dt.datetime) -> list[dict]:
    """The widgets every agent sees, those whose lists the user may open."""
    group_ids = roles.group_ids(user)
    widgets = []
    if user.has_perm("incidents.view_incident"):
        widgets += [
            my_open_incidents(user),
            my_groups_unassigned(user, group_ids),
            breaching_soon(user, group_ids, now),
        ]
    if user.has_perm("incidents.view_task"):
        widgets.append(my_tasks(user, group_ids))
    if user.has_perm("incidents.view_majorincident"):
        widgets.append(active_major_incidents(now))
    return widgets


def manager_figures(now: dt.datetime) -> dict:
    """The manager's charts and tables, the same for every manager (see `shared_figures`)."""
    params = last_30_days()
    return {
        "charts": [c for c in (report_chart(n, k, t, params) for n, k, t in CHARTS) if c],
        "ageing": backlog_ageing(now, params),
        "top_services": top_services(params),
        "mi_cost": major_incident_cost(this_quarter()),
        "period": params,
        "period_label": f"{params.start:%d %b} to {params.end - dt.timedelta(days=1):%d %b %Y}",
        "reports_url": reverse("reports:index"),
        "problems": open_problems(),
        "known_errors": known_errors_by_deflections(),
        "built_at": now.astimezone(report_tz()),
    }


def shared_figures(now: dt.datetime) -> dict:
    """`manager_figures`, kept `MANAGER_CACHE_SECONDS` in the shared cache for every manager.

    The figures aggregate a month of the whole desk's incidents (hundreds of milliseconds at a
    million incidents); a manager's dashboard that is up to a minute old (the page says when it was
    computed) is what every manager opening it at nine o'clock can share. When the copy expires one
    request rebuilds it (a `cache.add` lock) while the others keep the previous copy; with no
    usable cache every request computes its own. The report pages and the API are always live.
    """
    seconds = getattr(settings, "REPORTS_DASHBOARD_CACHE_SECONDS", MANAGER_CACHE_SECONDS)
    if seconds <= 0:
        return manager_figures(now)
    key = f"reporting:dashboard:manager:{today().isoformat()}"
    try:
        stored = cache.get(key)
        if stored is not None and stored["fresh_until"] > now.timestamp():
            return stored["figures"]
        if stored is not None and not cache.add(f"{key}:lock", 1, LOCK_SECONDS):
            return stored["figures"]  # another request is rebuilding: the previous minute's copy
    except Exception:  # the cache is an optimisation: a failing one must not break the page
        logger.warning("dashboard cache unavailable; computing the manager's figures", exc_info=True)
        return manager_figures(now)
    figures = manager_figures(now)
    try:
        cache.set(key, {"figures": figures, "fresh_until": now.timestamp() + seconds}, seconds + STALE_SECONDS)
        cache.delete(f"{key}:lock")
    except Exception:  # idem
        logger.warning("dashboard cache unavailable; the figures were not kept", exc_info=True)
    return figures


def manager_widgets(user, now: dt.datetime) -> dict:
    """The charts and tables of the manager's part of the dashboard, those this user may open."""
    widgets = dict(shared_figures(now))
    if not user.has_perm("problems.view_problem"):
        widgets.pop("problems")
    if not user.has_perm("problems.view_knownerror"):
        widgets.pop("known_errors")
    return widgets


def dashboard_callback(request: HttpRequest, context: dict) -> dict:
    """Unfold's DASHBOARD_CALLBACK: add `dashboard` (agent widgets, and the manager's part) to `context`."""
    user = request.user
    now = timezone.now()
    dashboard = {"agent": agent_widgets(user, now), "manager": None, "now": now.astimezone(report_tz())}
    if can_read_reports(user) and is_manager(user):
        dashboard["manager"] = manager_widgets(user, now)
    context["dashboard"] = dashboard
    context["title"] = "Dashboard"
    return context
