"""Tasks of an incident (`/incidents/{id}/tasks/`) and of a major incident (`/major-incidents/{id}/tasks/`);
other record kinds (problems) build the same views with `record_views()` and route them themselves.

Thin views over `incidents.response.worktasks`: list (page numbers, filters state / assignee /
blocking), add (Idempotency-Key), read and PATCH one task (ETag / If-Match), and the
transitions start, complete and cancel. `{id}` is the record's id or its number
(INC0000123 / MIM0000007 / PRB0000001); `{task_id}` a task of that record (404 otherwise).
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from incidents.major.models import MajorIncident
from incidents.models import Incident
from incidents.response import policy, records, worktasks
from incidents.response.choices import TaskRole, TaskState, TaskTransition
from incidents.response.models import Task
from itsm.api.filters import CommaSeparatedFilter, FilterBackend, IdFilter, parse_id
from itsm.api.mixins import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, compute_etag, expected_version, run_idempotently
from itsm.api.pagination import PageNumberPagination
from itsm.api.serializers import StrictSerializer

INCIDENT_RECORD = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The incident's id or number (INC...)."
)
MAJOR_RECORD = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The major incident's id or number (MIM...)."
)
TASK_ID = OpenApiParameter("task_id", int, OpenApiParameter.PATH, description="The task's id.")
NAME = OpenApiParameter("name", str, OpenApiParameter.PATH, enum=TaskTransition.values, description="The transition.")


# --- representation ---------------------------------------------------------------------------------
class TaskSerializer(serializers.ModelSerializer):
    """A task (API.md "task"): who does what by when; `state` changes through the transitions."""

    overdue = serializers.SerializerMethodField(help_text="Open and past its due time.")
    available_transitions = serializers.SerializerMethodField(
        help_text="The transitions you may run now (start, complete, cancel)."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "incident",
            "major_incident",
            "problem",
            "kind",
            "title",
            "description",
            "assignment_group",
            "assignee",
            "due_at",
            "blocking",
            "state",
            "position",
            "role",
            "source",
            "overdue",
            "available_transitions",
            "created_at",
            "updated_at",
            "started_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_overdue(self, task: Task) -> bool:
        return task.is_overdue

    def get_available_transitions(self, task: Task) -> list[str]:
        request = self.context.get("request")
        return worktasks.available_transitions(task, getattr(request, "user", None)) if request else []


class _TaskFields(StrictSerializer):
    description = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    assignment_group = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, help_text="An active assignment group's id."
    )
    assignee = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="An active user's id.")
    due_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Not in the past when added.")
    blocking = serializers.BooleanField(required=False, help_text="On a major incident: holds its resolve while open.")
    position = serializers.IntegerField(required=False, min_value=0, max_value=worktasks.MAX_POSITION)
    # Plain text: which kinds a record takes is the record kind's (`incidents.response.records`).
    kind = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10,
        help_text="What the task is for. On a problem: rca (root cause analysis) or general (the default); "
        "incidents and major incidents take none (blank).",
    )


class TaskCreateSerializer(_TaskFields):
    """Body of POST .../tasks/."""

    title = serializers.CharField(max_length=255)
    role = serializers.ChoiceField(choices=TaskRole.choices, required=False)


class TaskUpdateSerializer(_TaskFields):
    """Body of PATCH .../tasks/{task_id}/ (every field optional; the state: transitions)."""

    title = serializers.CharField(max_length=255, required=False)


class TaskTransitionSerializer(StrictSerializer):
    """Body of POST .../transitions/{name}/: `cancel` takes an optional `reason`; the others nothing."""

    reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class TaskFilterSet(django_filters.FilterSet):
    state = CommaSeparatedFilter(choices=TaskState.choices)
    assignee = IdFilter(field_name="assignee_id", label="The assignee's user id")
    blocking = django_filters.BooleanFilter(field_name="blocking")

    class Meta:
        model = Task
        fields: list[str] = []


class TaskPagination(PageNumberPagination):
    page_size = 50


# --- lookups ---------------------------------------------------------------------------------------
def _record(model, value: str):
    pk = parse_id(value)
    rows = model.objects.all()
    record = rows.filter(pk=pk).first() if pk is not None else rows.filter(number=value.upper()).first()
    if record is None:
        raise Http404
    return record


def _require(decision) -> None:
    if not decision:
        raise PermissionDenied(decision.reason)


def _task(record, task_id: str) -> Task:
    pk = parse_id(task_id)
    task = Task.objects.filter(pk=pk, **records.on(record)).first() if pk is not None else None
    if task is None:
        raise Http404
    return task


class _TaskViewBase(GenericAPIView):
    permission_classes = [IsAuthenticated]
    serializer_class = TaskSerializer
    queryset = Task.objects.none()
    record_model: type = Incident

    def record(self):
        record = _record(self.record_model, self.kwargs["id"])
        _require(policy.can_view_tasks(self.request.user, record))
        return record

    def _respond(self, record, task: Task, code: int = status.HTTP_200_OK) -> Response:
        task = Task.objects.get(pk=task.pk)
        records.attach([task], record)
        response = Response(TaskSerializer(task, context={"request": self.request}).data, status=code)
        response["ETag"] = compute_etag(task)
        return response


class _TaskListView(_TaskViewBase):
    pagination_class = TaskPagination
    filter_backends = [FilterBackend]
    filterset_class = TaskFilterSet

    def list(self, request):
        record = self.record()
        rows = self.filter_queryset(Task.objects.filter(**records.on(record)).order_by("position", "id"))
        page = self.paginate_queryset(rows)
        records.attach(page, record)
        return self.get_paginated_response(TaskSerializer(page, many=True, context={"request": request}).data)

    def create(self, request):
        def handler():
            record = self.record()
            body = TaskCreateSerializer(data=request.data)
            body.is_valid(raise_exception=True)
            task = worktasks.create_task(actor=request.user, record=record, **body.validated_data)
            return self._respond(record, task, status.HTTP_201_CREATED)

        return run_idempotently(request, handler)


class _TaskDetailView(_TaskViewBase):
    def read(self, request, task_id: str):
        record = self.record()
        return self._respond(record, _task(record, task_id))

    def change(self, request, task_id: str):
        record = self.record()
        task = _task(record, task_id)
        body = TaskUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        task = worktasks.update_task(
            task, actor=request.user, changes=dict(body.validated_data), expected_version=expected_version(request)
        )
        return self._respond(record, task)


class _TaskTransitionView(_TaskViewBase):
    def run(self, request, task_id: str, name: str):
        record = self.record()
        task = _task(record, task_id)
        body = TaskTransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = worktasks.run_task_transition(
            task,
            name,
            actor=request.user,
            payload=dict(body.validated_data),
            expected_version=expected_version(request),
        )
        return self._respond(record, task)


LIST_DOC = "The record's tasks in list order (page numbers; filters state, assignee, blocking)."
CREATE_DOC = "Add a task (201); its owner (assignee, else group) is told. A due time in the past is a 400."
READ_DOC = "One task, with its ETag."
PATCH_DOC = "Change title, description, group, assignee, due time, blocking or position (If-Match: 412 when stale)."
RUN_DOC = "Start, complete or cancel the task (409 naming its state and what is allowed now)."


def record_views(record_model, record_param: OpenApiParameter):
    """The three views (list/add, read/PATCH, transitions) of one record kind, documented with
    that kind's `{id}`; the kind must be registered in `incidents.response.records`."""

    class ListView(_TaskListView):
        @extend_schema(parameters=[record_param], responses={200: TaskSerializer(many=True)}, description=LIST_DOC)
        def get(self, request, id: str):
            return self.list(request)

        @extend_schema(
            parameters=[record_param, IDEMPOTENCY_PARAMETER],
            request=TaskCreateSerializer,
            responses={201: TaskSerializer},
            description=CREATE_DOC,
        )
        def post(self, request, id: str):
            return self.create(request)

    class DetailView(_TaskDetailView):
        @extend_schema(parameters=[record_param, TASK_ID], responses={200: TaskSerializer}, description=READ_DOC)
        def get(self, request, id: str, task_id: str):
            return self.read(request, task_id)

        @extend_schema(
            parameters=[record_param, TASK_ID, IF_MATCH_PARAMETER],
            request=TaskUpdateSerializer,
            responses={200: TaskSerializer},
            description=PATCH_DOC,
        )
        def patch(self, request, id: str, task_id: str):
            return self.change(request, task_id)

    class TransitionView(_TaskTransitionView):
        @extend_schema(
            parameters=[record_param, TASK_ID, NAME, IF_MATCH_PARAMETER],
            request=TaskTransitionSerializer,
            responses={200: TaskSerializer},
            description=RUN_DOC,
        )
        def post(self, request, id: str, task_id: str, name: str):
            return self.run(request, task_id, name)

    for view in (ListView, DetailView, TransitionView):
        view.record_model = record_model
        view.__name__ = view.__qualname__ = f"{record_model.__name__}Task{view.__name__}"
    return ListView, DetailView, TransitionView


IncidentTaskListView, IncidentTaskDetailView, IncidentTaskTransitionView = record_views(Incident, INCIDENT_RECORD)
MajorTaskListView, MajorTaskDetailView, MajorTaskTransitionView = record_views(MajorIncident, MAJOR_RECORD)
