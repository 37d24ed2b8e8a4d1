"""Problem endpoints: a thin viewset whose actions call `problems.lifecycle` and `problems.links`.

Detail URLs take the id or the number (`/api/v1/problems/PRB0000012/`).
"""

from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from itsm.api.filters import FilterBackend, StrictOrderingFilter
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, expected_version, run_idempotently
from itsm.api.pagination import CursorPagination
from problems import common, lifecycle, links, policy
from problems.choices import ProblemTransition
from problems.filters import ProblemFilterSet
from problems.models import Problem

from . import serializers as s
from .common import LOOKUP_REGEX, get_problem, with_etag


class ProblemCursorPagination(CursorPagination):
    ordering = "-id"


class TimelineCursorPagination(CursorPagination):
    ordering = "id"


class ProblemViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Problems: list, open, read, PATCH fields; transitions and the timeline as sub-resources."""

    permission_classes = [IsAuthenticated]
    pagination_class = ProblemCursorPagination
    filter_backends = [FilterBackend, StrictOrderingFilter]
    filterset_class = ProblemFilterSet
    ordering_fields = ["id", "number", "opened_at", "updated_at", "priority"]
    ordering = ["-id"]
    lookup_value_regex = LOOKUP_REGEX
    http_method_names = ["get", "post", "patch", "head", "options"]
    serializer_class = s.ProblemSerializer
    queryset = Problem.objects.all()  # the model, for the schema; get_queryset() says what is read

    def get_queryset(self):
        # Rendered rows come with what the representation shows; the other actions need none of it.
        if self.action in ("list", "retrieve"):
            return s.problem_queryset()
        return Problem.objects.all()

    def get_object(self):
        problem = get_problem(self.kwargs[self.lookup_field], self.get_queryset())
        common.require(policy.can_view(self.request.user, problem))
        return problem

    def _respond(self, problem: Problem, code: int = status.HTTP_200_OK) -> Response:
        """The record as detail renders it, read back after the use case that changed it."""
        problem = s.problem_queryset().get(pk=problem.pk)
        return with_etag(Response(self.get_serializer(problem).data, status=code), problem)

    @extend_schema(
        request=s.ProblemCreateSerializer,
        responses={201: s.ProblemSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
    )
    def create(self, request, *args, **kwargs):
        """Open a problem (source `manual`, or `reactive` when raised from incidents), optionally
        linking incidents at once (409 naming the other open problem unless `"move": true`)."""

        def handler():
            common.require(policy.can_create(request.user))
            body = s.ProblemCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            data = dict(body.validated_data)
            incidents, move = data.pop("incidents", None), data.pop("move")
            with transaction.atomic():  # a refused link leaves no problem behind
                problem = lifecycle.open_problem(actor=request.user, **data)
                if incidents:
                    links.link_incidents(problem, actor=request.user, incidents=incidents, move=move)
            response = self._respond(problem, status.HTTP_201_CREATED)
            response["Location"] = response.data["links"]["self"]
            return response

        return run_idempotently(request, handler)

    def retrieve(self, request, *args, **kwargs):
        problem = self.get_object()
        return with_etag(Response(self.get_serializer(problem).data), problem)

    @extend_schema(
        request=s.ProblemUpdateSerializer,
        responses={200: s.ProblemSerializer},
        parameters=[IF_MATCH_PARAMETER],
    )
    def partial_update(self, request, *args, **kwargs):
        """Change the record's fields (the state: transitions); 409 once closed or cancelled."""
        problem = self.get_object()
        common.require(policy.can_change(request.user, problem))  # 403 before any body error
        body = s.ProblemUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        problem = lifecycle.update_problem(
            problem, actor=request.user, changes=dict(body.validated_data), expected_version=expected_version(request)
        )
        return self._respond(problem)

    @extend_schema(responses={200: s.ProblemTransitionInfoSerializer(many=True)})
    @action(detail=True, methods=["get"], url_path="transitions", filter_backends=[], pagination_class=None)
    def transitions(self, request, pk=None):
        """The transitions this user may run now, with the fields each takes (a required field
        may also have been set on the problem before)."""
        problem = self.get_object()
        base = request.build_absolute_uri(f"{reverse('problem-detail', args=[problem.pk])}transitions/")
        data = []
        for name in lifecycle.available_transitions(problem, request.user):
            fields = lifecycle.transition_requirements(name)
            data.append(
                {
                    "name": name,
                    "label": ProblemTransition(name).label,
                    "required_fields": [f for f, required in fields.items() if required],
                    "optional_fields": [f for f, required in fields.items() if not required],
                    "url": f"{base}{name}/",
                }
            )
        return with_etag(Response(data), problem)

    @extend_schema(
        request=s.ProblemTransitionBodySerializer,
        responses={200: s.ProblemSerializer},
        parameters=[
            IF_MATCH_PARAMETER,
            OpenApiParameter(
                "name", str, OpenApiParameter.PATH, enum=ProblemTransition.values, description="The transition."
            ),
        ],
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)", filter_backends=[])
    def run_transition(self, request, pk=None, name=None):
        """Run one transition: 409 when not allowed from the current state, 400 naming each missing
        field (in the body, or set on the problem before)."""
        if name not in lifecycle.TRANSITION_NAMES:
            raise NotFound(f"Unknown transition '{name}'. Known: {', '.join(lifecycle.TRANSITION_NAMES)}.")
        problem = self.get_object()
        common.require(policy.can_transition(request.user, problem, name))  # 403 before any body error
        body = s.ProblemTransitionBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        problem = lifecycle.run_transition(
            problem,
            name,
            actor=request.user,
            payload=dict(body.validated_data),
            expected_version=expected_version(request),
        )
        return self._respond(problem)

    @extend_schema(responses={200: s.ProblemEventSerializer(many=True)})
    @action(
        detail=True,
        methods=["get"],
        url_path="timeline",
        pagination_class=TimelineCursorPagination,
        filter_backends=[],
    )
    def timeline(self, request, pk=None):
        """The append-only history, oldest first."""
        problem = self.get_object()
        page = self.paginate_queryset(problem.timeline.all())
        return self.get_paginated_response(s.ProblemEventSerializer(page, many=True).data)
