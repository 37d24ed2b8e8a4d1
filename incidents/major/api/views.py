"""Major incident endpoints: a thin viewset whose actions call `incidents.major.lifecycle`.

Detail URLs take the id or the number (`/api/v1/major-incidents/MIM0000012/`).
"""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents.major import history, lifecycle, links, policy
from incidents.major.choices import MajorTransition
from incidents.major.filters import MajorIncidentFilterSet
from incidents.major.models import MajorIncident
from itsm.api.filters import FilterBackend
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, expected_version, run_idempotently
from itsm.api.pagination import CursorPagination

from . import serializers as s
from .common import LOOKUP_REGEX, get_major_incident, with_etag
from .timeline import MarkdownRenderer, MergedTimelinePagination, timeline_rows


class MajorIncidentCursorPagination(CursorPagination):
    ordering = "-id"


class MajorIncidentViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Major incidents: list, propose or declare, read, PATCH fields; transitions and the merged timeline."""

    permission_classes = [IsAuthenticated]
    pagination_class = MajorIncidentCursorPagination
    filter_backends = [FilterBackend]
    filterset_class = MajorIncidentFilterSet
    lookup_value_regex = LOOKUP_REGEX
    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = s.MajorIncidentSerializer

    def get_queryset(self):
        # Rendered rows come with what the representation shows; the other actions need none of it.
        if self.action in ("list", "retrieve"):
            return s.major_incident_queryset()
        return MajorIncident.objects.all()

    def get_object(self):
        return get_major_incident(self.kwargs[self.lookup_field], self.get_queryset())

    def handle_exception(self, exc):
        # An error is JSON (the one error shape), also when the Markdown timeline was asked for.
        response = super().handle_exception(exc)
        if getattr(getattr(self.request, "accepted_renderer", None), "format", None) == MarkdownRenderer.format:
            self.request.accepted_renderer = JSONRenderer()
            self.request.accepted_media_type = JSONRenderer.media_type
        return response

    def _respond(self, mi: MajorIncident, code: int = status.HTTP_200_OK) -> Response:
        """The record as detail renders it, read back after the use case that changed it."""
        mi = s.major_incident_queryset().get(pk=mi.pk)
        return with_etag(Response(self.get_serializer(mi).data, status=code), mi)

    @extend_schema(
        request=s.MajorIncidentCreateSerializer,
        responses={201: s.MajorIncidentSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        """Propose a major incident for an incident (`reason` required), or declare it at once
        (`"declare": true`, Major Incident Managers only)."""

        def handler():
            decision = policy.can_propose(request.user)
            if not decision:
                raise PermissionDenied(decision.reason)
            body = s.MajorIncidentCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = dict(body.validated_data)
            (incident,) = links.find_incidents([data.pop("incident")], field="incident")
            mi = lifecycle.propose(
                actor=request.user, incident=incident, reason=data.pop("reason"), declare=data.pop("declare"), **data
            )
            response = self._respond(mi, status.HTTP_201_CREATED)
            response["Location"] = response.data["links"]["self"]
            return response

        return run_idempotently(request, handler)

    def retrieve(self, request, *args, **kwargs):
        mi = self.get_object()
        return with_etag(Response(self.get_serializer(mi).data), mi)

    @extend_schema(
        request=s.MajorIncidentUpdateSerializer,
        responses={200: s.MajorIncidentSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    def partial_update(self, request, *args, **kwargs):
        """Change roles, bridge, services, impact, cadence or stakeholders (the state: transitions)."""
        mi = self.get_object()
        body = s.MajorIncidentUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        mi = lifecycle.update_major_incident(
            mi, actor=request.user, changes=dict(body.validated_data), expected_version=expected_version(request)
        )
        return self._respond(mi)

    @extend_schema(responses={200: s.MajorTransitionInfoSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="transitions", filter_backends=[], pagination_class=None)
    def transitions(self, request, pk=None):
        """The transitions this user may run now, with the fields each takes."""
        mi = self.get_object()
        base = request.build_absolute_uri(f"{reverse('major-incident-detail', args=[mi.pk])}transitions/")
        data = []
        for name in lifecycle.available_transitions(mi, request.user):
            fields = lifecycle.transition_requirements(name)
            data.append(
                {
                    "name": name,
                    "label": MajorTransition(name).label,
                    "required_fields": [f for f, required in fields.items() if required],
                    "optional_fields": [f for f, required in fields.items() if not required],
                    "url": f"{base}{name}/",
                }
            )
        return with_etag(Response(data), mi)

    @extend_schema(
        request=s.MajorTransitionBodySerializer,
        responses={200: s.MajorIncidentSerializer},
        parameters=[
            IF_MATCH_PARAMETER,
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, enum=MajorTransition.values, description="The transition."
            ),
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)", filter_backends=[])
    def run_transition(self, request, pk=None, name=None):
        """Run one transition; 409 when it is not allowed from the current state."""
        if name not in lifecycle.TRANSITION_NAMES:
            raise NotFound(f"Unknown transition '{name}'. Known: {', '.join(lifecycle.TRANSITION_NAMES)}.")
        mi = self.get_object()
        body = s.MajorTransitionBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        mi = lifecycle.run_transition(
            mi, name, actor=request.user, payload=dict(body.validated_data), expected_version=expected_version(request)
        )
        return self._respond(mi)

    @extend_schema(
        responses={
            (200, "application/json"): s.MergedTimelineEntrySerializer(many=True),
            (200, "text/markdown"): OpenApiTypes.STR,
        },
        description="The major incident's own events merged in order with its incidents' events, oldest first; "
        "`?format=markdown` (or `Accept: text/markdown`) exports the whole timeline as a Markdown table.",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="timeline",
        pagination_class=MergedTimelinePagination,
        filter_backends=[],
        renderer_classes=[JSONRenderer, MarkdownRenderer],
    )
    def timeline(self, request, pk=None):
        mi = self.get_object()
        if request.accepted_renderer.format == MarkdownRenderer.format:
            return Response(history.timeline_markdown(mi), content_type="text/markdown; charset=utf-8")
        page = self.paginator.paginate_sources(history.sources(mi), request)
        rows = s.MergedTimelineEntrySerializer(timeline_rows(mi, page), many=True).data
        return self.paginator.get_paginated_response(rows)
