"""Response plan endpoints: `/api/v1/response-plans/` (GET, POST, PATCH `/{id}/`).

Administrators write, Major Incident Managers read. A save goes through `plans.save_plan`, which
publishes a version when the content changed; `versions` lists the published snapshots.
"""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.db.models import Prefetch
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from incidents.major.choices import Audience, UpdateStatus
from incidents.response import plans
from incidents.response.choices import TaskRole
from incidents.response.models import PlanTask, ResponsePlan, ResponsePlanVersion
from itsm.api.filters import ID_MAX
from itsm.api.mixins import IdempotentCreateMixin, check_if_match, compute_etag
from itsm.api.serializers import StrictSerializer
from itsm.models import AssignmentGroup, Category, Service

from .config_permissions import ManagersReadAdministratorsWrite
from .fields import StrictBooleanField, StrictCharField, StrictIntegerField

MAX_TASKS = 100
MAX_TEMPLATES = 20


class PlanTaskSerializer(StrictSerializer):
    """One checklist step: owned by a group or by a role of the response team, due after declaration."""

    title = StrictCharField(max_length=255)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=10_000)
    assignment_group = StrictIntegerField(
        min_value=1, required=False, allow_null=True, default=None, help_text="An assignment group id."
    )
    role = serializers.ChoiceField(choices=TaskRole.choices, required=False, allow_blank=True, default="")

    def validate_assignment_group(self, value: int | None) -> AssignmentGroup | None:
        if value is None:
            return None
        group = AssignmentGroup.objects.filter(pk=value, active=True).first()
        if group is None:
            raise serializers.ValidationError(f"{value} is not an active assignment group.")
        return group

    due_offset_minutes = StrictIntegerField(
        min_value=0, max_value=525_600, help_text="Due this many minutes after declaration (0 or more)."
    )
    blocking = StrictBooleanField(required=False, default=False)


class UpdateTemplateSerializer(StrictSerializer):
    name = StrictCharField(max_length=150)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False, default=Audience.INTERNAL)
    status = serializers.ChoiceField(choices=UpdateStatus.choices, required=False, default=UpdateStatus.INVESTIGATING)
    body = StrictCharField(
        max_length=10_000, help_text="Placeholders: {title}, {number}, {services}, {priority}, {incident}."
    )


class CommunicationPlanSerializer(StrictSerializer):
    """Who is kept informed, how often, and the update templates (the first pre-fills the draft)."""

    audiences = serializers.ListField(child=serializers.ChoiceField(choices=Audience.choices), required=False)
    update_cadence_minutes = StrictIntegerField(min_value=1, max_value=1440, required=False, allow_null=True)
    update_templates = UpdateTemplateSerializer(many=True, required=False, max_length=MAX_TEMPLATES)


class PlanVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResponsePlanVersion
        fields = ["id", "number", "content", "created_by", "created_at"]
        read_only_fields = fields


class ResponsePlanSerializer(StrictSerializer):
    """A response plan: what it matches, its checklist and its communication plan."""

    id = StrictIntegerField(read_only=True)
    name = StrictCharField(max_length=150)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    position = StrictIntegerField(min_value=0, max_value=2_147_483_647, required=False)
    active = StrictBooleanField(required=False)
    services = serializers.ListField(
        child=StrictCharField(max_length=100), required=False, max_length=500, help_text="Service slugs; empty: any."
    )
    categories = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=ID_MAX),  # larger ids overflow the database: a 400
        required=False,
        max_length=500,
        help_text="Category ids; empty: any (a parent covers its children).",
    )
    priorities = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=5), required=False, help_text="Empty: any."
    )
    tasks = PlanTaskSerializer(many=True, required=False, max_length=MAX_TASKS)
    communication_plan = CommunicationPlanSerializer(required=False)
    current_version = StrictIntegerField(read_only=True)
    versions = PlanVersionSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        value = value.strip()
        others = ResponsePlan.objects.filter(name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if not value:
            raise serializers.ValidationError("A name is required.")
        if others.exists():
            raise serializers.ValidationError(f"A plan named '{value}' exists.")
        return value

    def validate_services(self, value: list[str]) -> list[Service]:
        found = {s.slug: s for s in Service.objects.filter(slug__in=set(value))}
        unknown = [slug for slug in value if slug not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown service(s): {', '.join(unknown)}.")
        return list({slug: found[slug] for slug in value}.values())

    def validate_categories(self, value: list[int]) -> list[Category]:
        found = Category.objects.in_bulk(set(value))
        unknown = [str(pk) for pk in value if pk not in found]
        if unknown:
            raise serializers.ValidationError(f"Unknown category id(s): {', '.join(unknown)}.")
        return list({pk: found[pk] for pk in value}.values())

    def validate_priorities(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A priority is listed twice.")
        return sorted(value)

    def to_representation(self, instance: ResponsePlan) -> dict:
        return {
            "id": instance.pk,
            "name": instance.name,
            "description": instance.description,
            "position": instance.position,
            "active": instance.active,
            "services": sorted(s.slug for s in instance.services.all()),
            "categories": sorted(c.pk for c in instance.categories.all()),
            "priorities": list(instance.priorities or []),
            "tasks": [
                {
                    "title": t.title,
                    "description": t.description,
                    "assignment_group": t.assignment_group_id,
                    "role": t.role,
                    "due_offset_minutes": t.due_offset_minutes,
                    "blocking": t.blocking,
                }
                for t in instance.tasks.all()
            ],
            "communication_plan": {
                "audiences": list(instance.audiences or []),
                "update_cadence_minutes": instance.update_cadence_minutes,
                "update_templates": list(instance.update_templates or []),
            },
            "current_version": instance.current_version,
            "versions": PlanVersionSerializer(instance.versions.all(), many=True).data,
            "created_at": serializers.DateTimeField().to_representation(instance.created_at),
            "updated_at": serializers.DateTimeField().to_representation(instance.updated_at),
        }

    def save_plan(self, actor) -> ResponsePlan:
        data = dict(self.validated_data)
        comms = data.pop("communication_plan", None) or {}
        values = {k: v for k, v in data.items() if k in plans.PLAN_FIELDS}
        values.update({k: (list(v) if isinstance(v, list) else v) for k, v in comms.items()})
        if "update_templates" in values:
            values["update_templates"] = [dict(t) for t in values["update_templates"]]
        tasks = data.get("tasks")
        if tasks is not None:
            tasks = [{**t, "assignment_group": t.get("assignment_group")} for t in tasks]
        return plans.save_plan(
            actor=actor,
            plan=self.instance,
            values=values,
            services=data.get("services"),
            categories=data.get("categories"),
            tasks=tasks,
        )


class ResponsePlanFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Text search on the name")
    active = django_filters.BooleanFilter()

    class Meta:
        model = ResponsePlan
        fields = ["active"]


def plan_queryset():
    """Plans with what the representation shows, in a fixed number of queries."""
    return ResponsePlan.objects.prefetch_related(
        "services",
        "categories",
        Prefetch("tasks", queryset=PlanTask.objects.order_by("position", "id")),
        Prefetch("versions", queryset=ResponsePlanVersion.objects.order_by("-number")),
    )


class ResponsePlanViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Response plans: Major Incident Managers read; administrators create and change (a save
    publishes a new version when the content changed)."""

    permission_classes = [ManagersReadAdministratorsWrite]
    serializer_class = ResponsePlanSerializer
    filterset_class = ResponsePlanFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["id", "name", "position"]
    ordering = ["position", "id"]

    def get_queryset(self):
        return plan_queryset()

    def retrieve(self, request, *args, **kwargs):
        plan = self.get_object()
        response = Response(self.get_serializer(plan).data)
        response["ETag"] = compute_etag(plan)
        return response

    def create(self, request, *args, **kwargs):
        """Create a plan (its first version is published at once)."""
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        plan = body.save_plan(request.user)
        return self._respond(plan, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        """Change a plan; `tasks`, when given, replaces the whole checklist."""
        with transaction.atomic():
            plan = ResponsePlan.objects.select_for_update().get(pk=self.get_object().pk)
            check_if_match(request, plan)
            body = self.get_serializer(plan, data=request.data, partial=True)
            body.is_valid(raise_exception=True)
            plan = body.save_plan(request.user)
        return self._respond(plan)

    def _respond(self, plan: ResponsePlan, code: int = status.HTTP_200_OK) -> Response:
        plan = plan_queryset().get(pk=plan.pk)
        response = Response(self.get_serializer(plan).data, status=code)
        response["ETag"] = compute_etag(plan)
        return response
