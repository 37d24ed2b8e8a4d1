"""Problem links endpoints (routes in `urlpatterns`, composed by `problems.api.problem_urls`).

`GET/POST problems/<id>/incidents/` lists and links incidents (`{"incidents": [ids or numbers],
"move": false}`), `DELETE problems/<id>/incidents/<incident_id>/` unlinks one (204); the same
for `major-incidents/`. Both call `problems.links`; a 409 names the other open problem.
"""

from django.http import Http404
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents.models import Incident, MajorIncident
from itsm.api.filters import parse_id
from itsm.api.pagination import CursorPagination
from problems import common, links, policy

from . import serializers as s
from .common import LOOKUP_REGEX, PROBLEM_PARAMETER, get_problem, path_parameter, with_etag

INCIDENT_PARAMETER = path_parameter("incident_id", "Incident id or number (INC0000123).")
MAJOR_INCIDENT_PARAMETER = path_parameter("mi_id", "Major incident id or number (MIM0000012).")


class LinkedCursorPagination(CursorPagination):
    ordering = "id"


def _readable(request, value: str):
    problem = get_problem(value)
    common.require(policy.can_view(request.user, problem))
    return problem


def _changeable(request, value: str):
    problem = get_problem(value)
    common.require(policy.can_change(request.user, problem))  # 403 before any body error
    return problem


class ProblemIncidentsView(generics.GenericAPIView):
    """The incidents linked to a problem; POST links more."""

    permission_classes = [IsAuthenticated]
    pagination_class = LinkedCursorPagination
    filter_backends: list = []
    serializer_class = s.ProblemIncidentSerializer

    def _page(self, problem):
        queryset = Incident.objects.filter(problem=problem).select_related("service")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[PROBLEM_PARAMETER], responses={200: s.ProblemIncidentSerializer(many=True)})
    def get(self, request, id):
        return self._page(_readable(request, id))

    @extend_schema(
        parameters=[PROBLEM_PARAMETER],
        request=s.ProblemLinkIncidentsSerializer,
        responses={200: s.ProblemIncidentSerializer(many=True)},
    )
    def post(self, request, id):
        """Link incidents (those already linked here stay); answers the linked incidents' first page."""
        problem = _changeable(request, id)
        body = s.ProblemLinkIncidentsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        links.link_incidents(problem, actor=request.user, **body.validated_data)
        problem = get_problem(str(problem.pk))
        return with_etag(self._page(problem), problem)


class ProblemIncidentView(generics.GenericAPIView):
    """One linked incident: DELETE unlinks it (404 when it is not linked to this problem)."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    serializer_class = s.ProblemIncidentSerializer

    @extend_schema(parameters=[PROBLEM_PARAMETER, INCIDENT_PARAMETER], request=None, responses={204: None})
    def delete(self, request, id, incident_id):
        problem = _changeable(request, id)
        links.unlink_incident(problem, actor=request.user, incident=_record(Incident, incident_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProblemMajorIncidentsView(generics.GenericAPIView):
    """The major incidents linked to a problem; POST links more."""

    permission_classes = [IsAuthenticated]
    pagination_class = LinkedCursorPagination
    filter_backends: list = []
    serializer_class = s.ProblemMajorIncidentSerializer

    def _page(self, problem):
        page = self.paginate_queryset(MajorIncident.objects.filter(problem=problem))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[PROBLEM_PARAMETER], responses={200: s.ProblemMajorIncidentSerializer(many=True)})
    def get(self, request, id):
        return self._page(_readable(request, id))

    @extend_schema(
        parameters=[PROBLEM_PARAMETER],
        request=s.ProblemLinkMajorIncidentsSerializer,
        responses={200: s.ProblemMajorIncidentSerializer(many=True)},
    )
    def post(self, request, id):
        """Link major incidents (409 naming the other open problem unless `"move": true`)."""
        problem = _changeable(request, id)
        body = s.ProblemLinkMajorIncidentsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        links.link_major_incidents(problem, actor=request.user, **body.validated_data)
        problem = get_problem(str(problem.pk))
        return with_etag(self._page(problem), problem)


class ProblemMajorIncidentView(generics.GenericAPIView):
    """One linked major incident: DELETE unlinks it (404 when it is not linked to this problem)."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    serializer_class = s.ProblemMajorIncidentSerializer

    @extend_schema(parameters=[PROBLEM_PARAMETER, MAJOR_INCIDENT_PARAMETER], request=None, responses={204: None})
    def delete(self, request, id, mi_id):
        problem = _changeable(request, id)
        links.unlink_major_incident(problem, actor=request.user, major_incident=_record(MajorIncident, mi_id).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _record(model, value: str):
    """The incident or major incident a path names by id or number; 404 otherwise."""
    if value.isdigit():
        found = model.objects.filter(pk=parse_id(value)).first() if parse_id(value) else None
    else:
        found = model.objects.filter(number=value.upper()).first()
    if found is None:
        raise Http404(f"No such {model._meta.verbose_name}: {value}.")
    return found


urlpatterns: list = [
    re_path(rf"^problems/(?P<id>{LOOKUP_REGEX})/incidents/$", ProblemIncidentsView.as_view(), name="problem-incidents"),
    re_path(
        rf"^problems/(?P<id>{LOOKUP_REGEX})/incidents/(?P<incident_id>{LOOKUP_REGEX})/$",
        ProblemIncidentView.as_view(),
        name="problem-incident",
    ),
    re_path(
        rf"^problems/(?P<id>{LOOKUP_REGEX})/major-incidents/$",
        ProblemMajorIncidentsView.as_view(),
        name="problem-major-incidents",
    ),
    re_path(
        rf"^problems/(?P<id>{LOOKUP_REGEX})/major-incidents/(?P<mi_id>{LOOKUP_REGEX})/$",
        ProblemMajorIncidentView.as_view(),
        name="problem-major-incident",
    ),
]
