"""Major incident review endpoints (routes in `urlpatterns`, composed by `incidents.major.api.urls`).

`GET/PUT major-incidents/{mi}/review/` (ETag `"v<n>"` of the review, If-Match on PUT),
`GET/POST .../review/action-items/` (Idempotency-Key on POST), `PATCH .../action-items/{item_id}/`
and `GET .../review/export/` (the whole review as `text/markdown`). Thin views over
`incidents.major.review`; who may write is decided there (`incidents.major.policy`).
"""

from django.db.models import Prefetch, prefetch_related_objects
from django.http import Http404
from django.urls import re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.major import history, review
from incidents.major.models import ActionItem, MajorIncident, PostIncidentReview
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, expected_version, run_idempotently
from itsm.api.pagination import PageNumberPagination
from itsm.api.serializers import StrictSerializer

from .common import LOOKUP_REGEX, get_major_incident, with_etag

MI_PARAMETER = OpenApiParameter(
    "mi", str, OpenApiParameter.PATH, description="The major incident's id or number (MIM0000012)."
)
ITEM_PARAMETER = OpenApiParameter("item_id", int, OpenApiParameter.PATH, description="The action item's id.")
USER_ID_MAX = 2**31 - 1  # user ids are 32-bit; larger ones are a 400, not a database overflow


# --- serializers --------------------------------------------------------------------------------
class ActionItemSerializer(serializers.ModelSerializer):
    """A review action item: who does what by when (API.md: `title`, `owner`, `due_date`, `done`)."""

    owner = serializers.IntegerField(source="owner_id", allow_null=True, help_text="User id, or null.")

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "done", "done_at", "created_at", "updated_at"]
        read_only_fields = fields


class ActionItemWriteSerializer(StrictSerializer):
    """Body of POST .../action-items/ (title required) and PATCH .../action-items/{item_id}/."""

    read_only_names = frozenset(ActionItemSerializer.Meta.fields)

    title = serializers.CharField(max_length=255, help_text="What is to be done.")
    owner = serializers.IntegerField(
        min_value=1, max_value=USER_ID_MAX, allow_null=True, required=False, help_text="An active user's id."
    )
    due_date = serializers.DateField(allow_null=True, required=False)
    done = serializers.BooleanField(required=False)


def _text(**kwargs) -> serializers.CharField:
    return serializers.CharField(allow_blank=True, trim_whitespace=False, **kwargs)


class ReviewSerializer(serializers.ModelSerializer):
    """The post-incident review; `complete` when summary, root cause and lessons learned are filled
    and every action item has an owner and a due date (`missing` says what is not)."""

    complete = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    action_items = ActionItemSerializer(many=True, read_only=True)

    class Meta:
        model = PostIncidentReview
        fields = [
            "major_incident",
            "summary",
            "root_cause",
            "contributing_factors",
            "went_well",
            "went_badly",
            "lessons_learned",
            "timeline_markdown",
            "complete",
            "missing",
            "version",
            "updated_at",
            "updated_by",
            "action_items",
        ]
        read_only_fields = fields

    @staticmethod
    def _missing(obj) -> list[str]:
        return obj.missing()

    def get_complete(self, obj) -> bool:
        """Whether the major incident may close (nothing is missing)."""
        return not self._missing(obj)

    def get_missing(self, obj) -> list[str]:
        """What keeps the review from being complete, in plain words (empty when complete)."""
        return self._missing(obj)


class ReviewWriteSerializer(StrictSerializer):
    """Body of PUT .../review/: every section (PUT replaces them); `timeline_markdown` is optional
    (omitted: the pre-filled timeline is kept)."""

    read_only_names = frozenset(ReviewSerializer.Meta.fields)

    summary = _text(max_length=review.MAX_TEXT)
    root_cause = _text(max_length=review.MAX_TEXT)
    contributing_factors = _text(max_length=review.MAX_TEXT)
    went_well = _text(max_length=review.MAX_TEXT)
    went_badly = _text(max_length=review.MAX_TEXT)
    lessons_learned = _text(max_length=review.MAX_TEXT)
    timeline_markdown = _text(max_length=review.MAX_TIMELINE, required=False)


# --- renderers ----------------------------------------------------------------------------------
class MarkdownRenderer(BaseRenderer):
    """`text/markdown` for a view that answers a Markdown string."""

    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data.encode(self.charset) if isinstance(data, str) else data


# --- views --------------------------------------------------------------------------------------
def _review_read(mi: MajorIncident) -> PostIncidentReview:
    """The review with its action items loaded once (the representation and `missing()` share them)."""
    record = review.get_review(mi)
    prefetch_related_objects([record], Prefetch("action_items", queryset=ActionItem.objects.order_by("id")))
    return record


class ReviewView(APIView):
    """The post-incident review of one major incident."""

    permission_classes = [IsAuthenticated]

    def _respond(self, mi: MajorIncident) -> Response:
        record = _review_read(mi)
        return with_etag(Response(ReviewSerializer(record).data), record)

    @extend_schema(
        summary="Read the post-incident review",
        description="Readable in any state (created empty on first read). ETag: the review's version.",
        parameters=[MI_PARAMETER],
        responses={200: ReviewSerializer},
    )
    def get(self, request, mi: str):
        return self._respond(get_major_incident(mi))

    @extend_schema(
        summary="Write the post-incident review",
        description="Replaces the sections (every one is required; `timeline_markdown` is optional). "
        "For the record's leads and Major Incident Managers, while it is active, resolved or in review "
        "(409 naming the state otherwise); If-Match with the review's ETag (412 when it changed).",
        parameters=[MI_PARAMETER, IF_MATCH_PARAMETER],
        request=ReviewWriteSerializer,
        responses={200: ReviewSerializer},
    )
    def put(self, request, mi: str):
        record = get_major_incident(mi)
        body = ReviewWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review.update_review(
            record, actor=request.user, fields=body.validated_data, expected_version=expected_version(request)
        )
        return self._respond(record)


class ActionItemListView(GenericAPIView):
    """The action items of one major incident's review."""

    permission_classes = [IsAuthenticated]
    pagination_class = PageNumberPagination
    filter_backends: list = []
    serializer_class = ActionItemSerializer

    @extend_schema(
        summary="List the review's action items",
        parameters=[MI_PARAMETER],
        responses={200: ActionItemSerializer(many=True)},
    )
    def get(self, request, mi: str):
        record = get_major_incident(mi)
        items = ActionItem.objects.filter(review__major_incident=record).order_by("id")
        page = self.paginate_queryset(items)
        return self.get_paginated_response(ActionItemSerializer(page, many=True).data)

    @extend_schema(
        summary="Add an action item",
        description="`title` required; `owner` an active user's id (400 naming it otherwise). "
        "For the record's leads and Major Incident Managers; 409 once the record is closed or rejected.",
        parameters=[MI_PARAMETER, IDEMPOTENCY_PARAMETER],
        request=ActionItemWriteSerializer,
        responses={201: ActionItemSerializer},
    )
    def post(self, request, mi: str):
        record = get_major_incident(mi)

        def handler():
            body = ActionItemWriteSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            item = review.add_action_item(record, actor=request.user, **body.validated_data)
            return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)

        return run_idempotently(request, handler)


class ActionItemDetailView(APIView):
    """One action item of a major incident's review (404 for an item of another record)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="Change an action item",
        description="The record's leads and Major Incident Managers change any field; the item's owner "
        "may mark it done (`done`). `done` sets `done_at`; a new `due_date` re-arms the overdue reminder.",
        parameters=[MI_PARAMETER, ITEM_PARAMETER],
        request=ActionItemWriteSerializer(partial=True),
        responses={200: ActionItemSerializer},
    )
    def patch(self, request, mi: str, item_id: str):
        record = get_major_incident(mi)
        item = ActionItem.objects.filter(review__major_incident=record, pk=int(item_id)).first()
        if item is None:
            raise Http404(f"{record.number} has no action item {item_id}.")
        body = ActionItemWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        item = review.update_action_item(item, actor=request.user, changes=body.validated_data)
        return Response(ActionItemSerializer(item).data)


class ReviewExportView(APIView):
    """The whole post-incident review as a Markdown document (errors stay JSON)."""

    permission_classes = [IsAuthenticated]
    renderer_classes = [MarkdownRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and not isinstance(response.data, str):
            # Errors (and OPTIONS) answer in the API's one JSON shape whatever was negotiated.
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        summary="Export the post-incident review as Markdown",
        description="Header (number, title, services, times), business impact, the review's sections, "
        "the action items and the merged timeline, as `text/markdown`.",
        parameters=[MI_PARAMETER],
        responses={(200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="The review document.")},
    )
    def get(self, request, mi: str):
        record = get_major_incident(mi)
        response = Response(history.review_markdown(record), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{record.number}-review.md"'
        return response


_BASE = rf"^major-incidents/(?P<mi>{LOOKUP_REGEX})/review/"
urlpatterns: list = [
    re_path(rf"{_BASE}$", ReviewView.as_view(), name="major-incident-review"),
    re_path(rf"{_BASE}action-items/$", ActionItemListView.as_view(), name="major-incident-action-items"),
    re_path(
        rf"{_BASE}action-items/(?P<item_id>[0-9]{{1,18}})/$",
        ActionItemDetailView.as_view(),
        name="major-incident-action-item",
    ),
    re_path(rf"{_BASE}export/$", ReviewExportView.as_view(), name="major-incident-review-export"),
]
