"""`GET /api/v1/reports/{name}/`: a report's rows as JSON or CSV (API.md)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from reporting import registry
from reporting.params import GROUP_BYS, ReportInputError, parse
from reporting.periods import INTERVALS

from .renderers import ReportCSVRenderer


class CanReadReports(permissions.BasePermission):
    """Reports are for the service desk: anyone who may read incidents (agents, managers, read-only)."""

    message = "Reports need permission to view incidents."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("incidents.view_incident"))


def report_body(report: registry.Report, params) -> dict:
    """The JSON body of a report (the console's CSV download and the API share it)."""
    return {
        "report": report.name,
        "from": params.start.isoformat(),
        "to": params.end.isoformat(),
        "interval": params.interval,
        "group_by": params.group_by,
        "rows": report.compute(params),
    }


class ReportView(APIView):
    """One report over a period, by interval and optionally by a grouping."""

    permission_classes = [CanReadReports]
    renderer_classes = [JSONRenderer, ReportCSVRenderer]
    throttle_scope = "token"

    @extend_schema(
        operation_id="reports_retrieve",
        summary="A report's rows for a period",
        description=(
            "Rows `{period, group, group_key, <metrics>}` for every period of [from, to) and every group "
            "found. `Accept: text/csv` or `?format=csv` returns the same rows as CSV with a header line. "
            "Bad parameters answer 400 naming each one; an unknown report 404."
        ),
        parameters=[
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, description="The report.", enum=sorted(registry.REPORTS)
            ),
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description="First day (inclusive); default: 30 days before `to`."
            ),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Day after the last (exclusive); default tomorrow."),
            OpenApiParameter("interval", str, enum=list(INTERVALS), description="Period length; default day."),
            OpenApiParameter("group_by", str, enum=list(GROUP_BYS), description="Split each period by this."),
            OpenApiParameter("format", str, enum=["json", "csv"], description="Same as the Accept header."),
        ],
        responses={
            200: OpenApiResponse(
                response={
                    "type": "object",
                    "properties": {
                        "report": {"type": "string"},
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "interval": {"type": "string", "enum": list(INTERVALS)},
                        "group_by": {"type": "string", "nullable": True, "enum": [*GROUP_BYS, None]},
                        "rows": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                    },
                    "required": ["report", "from", "to", "interval", "group_by", "rows"],
                },
                description="The report (CSV with Accept: text/csv).",
            )
        },
    )
    def get(self, request, name: str):
        report = registry.get(name)
        if report is None:
            raise Http404(f"No report '{name}'. Reports: {', '.join(sorted(registry.REPORTS))}.")
        try:
            params = parse(request.query_params, report.group_bys)
        except ReportInputError as error:
            raise exceptions.ValidationError(error.errors) from error
        self.csv_header = report.keys
        response = Response(report_body(report, params))
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="{report.name}-{params.start}-{params.end}.csv"'
        return response

    def get_renderer_context(self):
        return {**super().get_renderer_context(), "csv_header": getattr(self, "csv_header", None)}

    def handle_exception(self, exc):
        # Errors are always JSON, whatever was asked for: a CSV of an error helps nobody.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)
