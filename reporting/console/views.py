"""The console's report pages: `/admin/reports/` (index) and `/admin/reports/<name>/`.

Each page calls `report.compute(params)` only, so it shows the API's numbers; bad parameters
show the API's 400 messages on the page, with a 400 status. Reports need `incidents.view_incident`.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from reporting import registry
from reporting.console import charts
from reporting.params import ReportInputError, parse
from reporting.periods import INTERVALS

PERMISSION = "incidents.view_incident"
GROUP_LABELS = {
    "priority": "Priority",
    "service": "Service",
    "category": "Category",
    "assignment_group": "Assignment group",
    "assignee": "Assignee",
    "channel": "Channel",
}


def can_read_reports(user) -> bool:
    """Reports (and the dashboard's manager widgets) are for whoever may read incidents."""
    return bool(user and user.is_authenticated and user.has_perm(PERMISSION))


def report_url(name: str, query: dict | None = None) -> str:
    """The console page of report `name`, with `query` (e.g. `ReportParams.query()`)."""
    url = reverse("reports:report", args=[name])
    return f"{url}?{urlencode(query)}" if query else url


def csv_url(name: str, query: dict) -> str:
    """The API's CSV of the same report and parameters (the console session authenticates it)."""
    return reverse("report", args=[name]) + "?" + urlencode({**query, "format": "csv"})


def _check(request: HttpRequest) -> None:
    if not can_read_reports(request.user):
        raise PermissionDenied("Reports need permission to view incidents.")


def index(request: HttpRequest) -> HttpResponse:
    """Every registered report, in catalogue order, with its description."""
    _check(request)
    reports = [{"report": r, "url": report_url(r.name)} for r in registry.ordered()]
    context = {**admin.site.each_context(request), "title": "Reports", "reports": reports}
    return TemplateResponse(request, "reporting/index.html", context)


def report_page(request: HttpRequest, name: str) -> HttpResponse:
    """One report: the pickers (a GET form), the chart, the table and the CSV link."""
    _check(request)
    report = registry.get(name)
    if report is None:
        raise Http404(f"No report '{name}'.")
    form = {key: (request.GET.get(key) or "").strip() for key in ("from", "to", "interval", "group_by")}
    context = {
        **admin.site.each_context(request),
        "title": report.title,
        "report": report,
        "reports": registry.ordered(),
        "form": form,
        "intervals": INTERVALS,
        "group_bys": [(g, GROUP_LABELS.get(g, g)) for g in report.group_bys],
        "index_url": reverse("reports:index"),
    }
    try:
        # The form sends every field; an empty one (e.g. "no grouping") means the default here.
        params = parse({k: v for k, v in request.GET.items() if v.strip()}, report.group_bys)
    except ReportInputError as error:
        context["errors"] = error.errors
        return TemplateResponse(request, "reporting/report.html", context, status=400)
    rows = report.compute(params)
    data = charts.chart_data(report, rows)
    context.update(
        params=params,
        form={
            "from": params.start.isoformat(),
            "to": params.end.isoformat(),
            "interval": params.interval,
            "group_by": params.group_by or "",
        },
        rows=rows,
        chart_json=charts.to_json(data),
        chart_type=report.chart_type,
        legend=charts.legend(data),
        chart_column=(data or {}).get("column"),
        table=charts.table(report, rows),
        csv_url=csv_url(report.name, params.query()),
    )
    return TemplateResponse(request, "reporting/report.html", context)
