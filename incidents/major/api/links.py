"""Major incident links endpoints (routes in `urlpatterns`, composed by `incidents.major.api.urls`).

`GET/POST major-incidents/<mi>/incidents/` lists and links incidents (`{"incidents": [ids or
numbers]}`), `DELETE major-incidents/<mi>/incidents/<incident_id>/` unlinks one (204).
"""

from django.shortcuts import get_object_or_404
from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents.major import links
from incidents.models import Incident
from itsm.api.pagination import CursorPagination

from . import serializers as s
from .common import LOOKUP_REGEX, get_major_incident, with_etag

MI_PARAMETER = OpenApiParameter(
    "mi", str, OpenApiParameter.PATH, pattern=f"^{LOOKUP_REGEX}$", description="Major incident id or number."
)
INCIDENT_PARAMETER = OpenApiParameter(
    "incident_id", str, OpenApiParameter.PATH, pattern=f"^{LOOKUP_REGEX}$", description="Incident id or number."
)

LinkResultSerializer = inline_serializer(
    "LinkIncidentsResult",
    {
        "linked": serializers.ListField(child=serializers.IntegerField(), help_text="Ids this call linked."),
        "incidents": s.LinkedIncidentSerializer(many=True, help_text="Every incident of the request, now linked."),
    },
)


class LinkedCursorPagination(CursorPagination):
    ordering = "id"


class LinkedIncidentsView(generics.GenericAPIView):
    """The incidents linked to a major incident (its primary incident included)."""

    permission_classes = [IsAuthenticated]
    pagination_class = LinkedCursorPagination
    filter_backends: list = []
    serializer_class = s.LinkedIncidentSerializer

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "major_incident": getattr(self, "major_incident", None)}

    @extend_schema(parameters=[MI_PARAMETER], responses={200: s.LinkedIncidentSerializer(many=True)})
    def get(self, request, mi):
        self.major_incident = record = get_major_incident(mi)
        queryset = Incident.objects.filter(major_incident=record).select_related("service")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(parameters=[MI_PARAMETER], request=s.LinkIncidentsSerializer, responses={200: LinkResultSerializer})
    def post(self, request, mi):
        """Link incidents; those already linked here are left as they are (409 if one belongs to another)."""
        self.major_incident = record = get_major_incident(mi)
        body = s.LinkIncidentsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        linked = links.link_incidents(record, actor=request.user, incidents=body.validated_data["incidents"])
        self.major_incident = record = get_major_incident(str(record.pk))
        wanted = [i.pk for i in links.find_incidents(body.validated_data["incidents"])]
        rows = {i.pk: i for i in Incident.objects.filter(pk__in=wanted).select_related("service")}
        data = {
            "linked": [i.pk for i in linked],
            "incidents": self.get_serializer([rows[pk] for pk in wanted], many=True).data,
        }
        return with_etag(Response(data, status=status.HTTP_200_OK), record)


class LinkedIncidentView(generics.GenericAPIView):
    """One linked incident: DELETE unlinks it (the primary incident cannot be unlinked: 409)."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    serializer_class = s.LinkedIncidentSerializer

    @extend_schema(parameters=[MI_PARAMETER, INCIDENT_PARAMETER], request=None, responses={204: None})
    def delete(self, request, mi, incident_id):
        record = get_major_incident(mi)
        field = "pk" if incident_id.isdigit() else "number"
        incident = get_object_or_404(Incident.objects.only("id", "major_incident_id"), **{field: incident_id.upper()})
        if incident.pk != record.incident_id and incident.major_incident_id != record.pk:
            raise NotFound(f"Incident {incident_id} is not linked to {record.number}.")
        links.unlink_incident(record, actor=request.user, incident=incident)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns: list = [
    re_path(
        rf"^major-incidents/(?P<mi>{LOOKUP_REGEX})/incidents/$",
        LinkedIncidentsView.as_view(),
        name="major-incident-incidents",
    ),
    re_path(
        rf"^major-incidents/(?P<mi>{LOOKUP_REGEX})/incidents/(?P<incident_id>{LOOKUP_REGEX})/$",
        LinkedIncidentView.as_view(),
        name="major-incident-incident",
    ),
]
