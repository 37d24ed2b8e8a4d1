"""Known error database endpoints: the search (`/known-errors/`), one article, an incident's
suggestions (`/incidents/{id}/known-errors/`) and applying a workaround to an incident.

Ranking is `problems.kedb.search` (PostgreSQL full-text, a word-match score on SQLite), the
suggestions `problems.kedb.suggestions`, the use `problems.kedb.apply_workaround`: the views
parse, look up and render.
"""

from django.db.models import F, FloatField, Prefetch, Q, Value, prefetch_related_objects
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents import policy as incident_policy
from incidents.models import Incident
from itsm.api.filters import FilterBackend, check_single_values, parse_id, refuse_nul_in_query, service_ids
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, run_idempotently
from itsm.api.pagination import PageNumberPagination
from itsm.api.serializers import StrictSerializer
from itsm.models import Category, Service
from problems import common, kedb, policy
from problems.choices import KnownErrorState, KnownErrorUseKind
from problems.filters import KnownErrorFilterSet
from problems.kedb.search import significant_words
from problems.models import KnownError, KnownErrorUse, ProblemSettings

from .common import path_parameter

KNOWN_ERROR_PREFETCHES = (
    Prefetch("services", queryset=Service.objects.only("id", "slug").order_by("slug")),
    Prefetch("categories", queryset=Category.objects.only("id").order_by("id")),
)


def known_error_queryset():
    """Known errors as KnownErrorSerializer renders them (rows, then services and categories)."""
    return KnownError.objects.annotate(problem_number=F("problem__number")).prefetch_related(*KNOWN_ERROR_PREFETCHES)


class KnownErrorSerializer(serializers.ModelSerializer):
    """A known error article (API.md "known error"); `score` is the search rank (null outside searches)."""

    state = serializers.ChoiceField(choices=KnownErrorState.choices, read_only=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    categories = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    problem_number = serializers.CharField(read_only=True)
    score = serializers.SerializerMethodField()

    class Meta:
        model = KnownError
        fields = [
            "id",
            "problem",
            "problem_number",
            "title",
            "symptoms",
            "root_cause",
            "workaround",
            "services",
            "categories",
            "state",
            "score",
            "uses",
            "deflections",
            "published_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_score(self, obj) -> float | None:
        """Relevance in this search (higher is better); null when not searched."""
        score = getattr(obj, "score", None)
        return None if score is None else round(float(score), 6)


class SuggestionSerializer(KnownErrorSerializer):
    """A known error suggested for an incident."""

    same_service = serializers.SerializerMethodField()

    class Meta(KnownErrorSerializer.Meta):
        fields = [*KnownErrorSerializer.Meta.fields, "same_service"]
        read_only_fields = fields

    def get_same_service(self, obj) -> bool:
        """Whether the known error covers the incident's service (those come first)."""
        return bool(getattr(obj, "same_service", False))


class KnownErrorUseSerializer(serializers.ModelSerializer):
    """One use of a known error: its workaround applied to an incident."""

    kind = serializers.ChoiceField(choices=KnownErrorUseKind.choices, read_only=True)

    class Meta:
        model = KnownErrorUse
        fields = ["id", "known_error", "incident", "kind", "actor", "at", "deflected"]
        read_only_fields = fields


class ApplyWorkaroundSerializer(StrictSerializer):
    """Body of POST /incidents/{id}/known-errors/{known_error_id}/apply/."""

    resolve = serializers.BooleanField(
        default=False, help_text="Also resolve the incident with code `workaround` (a deflection)."
    )


class KnownErrorPagination(PageNumberPagination):
    """Page numbers: results are ranked by score, which no cursor can seek on."""


def _search_values(request) -> dict:
    """The search parameters, validated (400 naming each bad one)."""
    refuse_nul_in_query(request.query_params)
    check_single_values(request.query_params, KnownErrorFilterSet)
    form = KnownErrorFilterSet(request.query_params, queryset=KnownError.objects.none()).form
    if not form.is_valid():
        raise ValidationError(form.errors)
    return form.cleaned_data


def _retired(q: str, services: list[int], categories: list[int]):
    """Retired articles (an archive, newest retirement first): every word must occur somewhere."""
    qs = KnownError.objects.filter(state=KnownErrorState.RETIRED)
    if services:
        matching = KnownError.services.through.objects.filter(service_id__in=services)
        qs = qs.filter(pk__in=matching.values("knownerror_id"))
    if categories:
        matching = KnownError.categories.through.objects.filter(category_id__in=categories)
        qs = qs.filter(pk__in=matching.values("knownerror_id"))
    for word in significant_words(q):
        qs = qs.filter(
            Q(title__icontains=word)
            | Q(symptoms__icontains=word)
            | Q(root_cause__icontains=word)
            | Q(workaround__icontains=word)
        )
    return qs.annotate(score=Value(0.0, output_field=FloatField())).order_by("-retired_at", "-id")


class KnownErrorViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The known error database: ranked search and one article."""

    permission_classes = [IsAuthenticated]
    pagination_class = KnownErrorPagination
    filter_backends = [FilterBackend]  # documents the parameters; the search itself ranks
    filterset_class = KnownErrorFilterSet
    serializer_class = KnownErrorSerializer
    queryset = KnownError.objects.all()
    lookup_value_regex = "[0-9]+"

    def filter_queryset(self, queryset):
        return queryset  # list() searches; nothing else filters

    def list(self, request, *args, **kwargs):
        """Published known errors ranked by relevance to `q` (best first, with `score`), optionally
        of some services or categories; `?state=retired` searches the retired ones instead."""
        common.require(policy.can_view(request.user))
        values = _search_values(request)
        q = values.get("q") or ""
        services = service_ids(values["service"]) if values.get("service") else []
        categories = values.get("category") or []
        if values.get("state") == KnownErrorState.RETIRED:
            queryset = _retired(q, services, categories)
        else:
            queryset = kedb.search(q, service_ids=services or None, category_ids=categories or None)
        queryset = queryset.annotate(problem_number=F("problem__number")).prefetch_related(*KNOWN_ERROR_PREFETCHES)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        common.require(policy.can_view(request.user))
        found = parse_id(self.kwargs["pk"])
        article = known_error_queryset().filter(pk=found).first() if found else None
        if article is None:
            raise Http404("No such known error.")
        return Response(self.get_serializer(article).data)


def _incident(request, value: str) -> Incident:
    """The incident an URL names by id or number; 404 otherwise."""
    if value.isdigit():
        found = Incident.objects.filter(pk=parse_id(value)).first() if parse_id(value) else None
    else:
        found = Incident.objects.filter(number=value.upper()).first()
    if found is None:
        raise Http404(f"No such incident: {value}.")
    common.require(incident_policy.can_view(request.user, found))
    return found


INCIDENT_PARAMETER = path_parameter("id", "Incident id or number (INC0000123).")
KNOWN_ERROR_PARAMETER = OpenApiParameter(
    "known_error_id", str, OpenApiParameter.PATH, pattern="^[0-9]+$", description="Known error id."
)


class IncidentKnownErrorsView(generics.GenericAPIView):
    """The known errors suggested for an incident: those sharing significant words with its
    title or description, its service's first, then by score (at most the configured number)."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    pagination_class = None
    serializer_class = SuggestionSerializer

    @extend_schema(parameters=[INCIDENT_PARAMETER], responses={200: SuggestionSerializer(many=True)})
    def get(self, request, id):
        incident = _incident(request, id)
        rows = kedb.suggestions(incident, limit=ProblemSettings.current().suggestion_limit)
        prefetch_related_objects(rows, KNOWN_ERROR_PREFETCHES[1])
        for row in rows:
            row.problem_number = row.problem.number
        return Response(self.get_serializer(rows, many=True).data)


class ApplyWorkaroundView(generics.GenericAPIView):
    """Apply a known error's workaround to the incident (409 if already applied, retired, or the
    incident is not open); `"resolve": true` resolves the incident with code `workaround`."""

    permission_classes = [IsAuthenticated]
    filter_backends: list = []
    serializer_class = KnownErrorUseSerializer

    @extend_schema(
        parameters=[INCIDENT_PARAMETER, KNOWN_ERROR_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=ApplyWorkaroundSerializer,
        responses={201: KnownErrorUseSerializer},
    )
    def post(self, request, id, known_error_id):
        def handler():
            incident = _incident(request, id)
            common.require(incident_policy.can_change(request.user, incident))  # 403 before any body error
            article_id = parse_id(known_error_id)
            if article_id is None or not KnownError.objects.filter(pk=article_id).exists():
                raise Http404(f"No such known error: {known_error_id}.")
            body = ApplyWorkaroundSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            use = kedb.apply_workaround(article_id, incident, actor=request.user, **body.validated_data)
            return Response(KnownErrorUseSerializer(use).data, status=status.HTTP_201_CREATED)

        return run_idempotently(request, handler)
