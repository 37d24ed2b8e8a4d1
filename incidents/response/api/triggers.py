"""Trigger rule endpoints: `/api/v1/trigger-rules/` (GET, POST, PATCH) and `.../{id}/firings/` (GET).

Administrators write, Major Incident Managers read. Each rule carries read-only statistics:
`fired`, `proposed` (a major incident made), `accepted` (declared), `rejected`, `pending`.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from incidents.response import triggers
from incidents.response.choices import TRIGGER_FIELDS, TRIGGER_OPERATORS, TriggerAction, TriggerDecision
from incidents.response.models import TriggerFiring, TriggerRule, validate_conditions
from itsm.api.filters import CommaSeparatedFilter
from itsm.api.mixins import IdempotentCreateMixin, check_if_match, compute_etag
from itsm.api.serializers import StrictSerializer

from .config_permissions import ManagersReadAdministratorsWrite
from .fields import StrictBooleanField, StrictCharField, StrictIntegerField

MAX_CONDITIONS = 20


class ConditionSerializer(StrictSerializer):
    field = serializers.ChoiceField(choices=sorted(TRIGGER_FIELDS), help_text="What the condition looks at.")
    op = serializers.ChoiceField(choices=list(TRIGGER_OPERATORS))
    value = serializers.JSONField(help_text="A value, or a list for `in` / `not_in`.")

    def to_internal_value(self, data):
        # Unknown fields and operators are named with the known ones (one message per condition).
        if (
            isinstance(data, dict)
            and set(data) == {"field", "op", "value"}
            and isinstance(data["field"], str)
            and isinstance(data["op"], str)
        ):
            try:
                validate_conditions([data])
            except DjangoValidationError as exc:
                messages = [m.replace("Condition 1: ", "") for m in exc.messages]
                raise serializers.ValidationError([m[:1].upper() + m[1:] for m in messages]) from exc
        return super().to_internal_value(data)


class TriggerRuleSerializer(StrictSerializer):
    """A trigger rule with its statistics."""

    id = StrictIntegerField(read_only=True)
    name = StrictCharField(max_length=150)
    description = StrictCharField(required=False, allow_blank=True, max_length=10_000)
    active = StrictBooleanField(required=False, help_text="Off until an administrator turns it on.")
    position = StrictIntegerField(min_value=0, max_value=2_147_483_647, required=False)
    action = serializers.ChoiceField(choices=TriggerAction.choices, required=False)
    conditions = ConditionSerializer(many=True, required=False, max_length=MAX_CONDITIONS)
    count_threshold = StrictIntegerField(min_value=2, max_value=10_000, required=False, allow_null=True)
    window_minutes = StrictIntegerField(min_value=1, max_value=10_080, required=False, allow_null=True)
    fired = StrictIntegerField(read_only=True, help_text="Firings recorded.")
    proposed = StrictIntegerField(read_only=True, help_text="Firings that made a major incident.")
    accepted = StrictIntegerField(read_only=True, help_text="...of which declared.")
    rejected = StrictIntegerField(read_only=True, help_text="...of which rejected.")
    pending = StrictIntegerField(read_only=True, help_text="...of which still proposed.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("A name is required.")
        others = TriggerRule.objects.filter(name=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise serializers.ValidationError(f"A rule named '{value}' exists.")
        return value

    def validate(self, attrs: dict) -> dict:
        count = attrs.get("count_threshold", getattr(self.instance, "count_threshold", None))
        window = attrs.get("window_minutes", getattr(self.instance, "window_minutes", None))
        if (count is None) != (window is None):
            field = "window_minutes" if count is not None else "count_threshold"
            raise serializers.ValidationError({field: ["A count needs a window, and a window a count."]})
        return attrs

    def to_representation(self, instance: TriggerRule) -> dict:
        data = {
            name: getattr(instance, name)
            for name in ("id", "name", "description", "active", "position", "action", "conditions")
        }
        data["count_threshold"], data["window_minutes"] = instance.count_threshold, instance.window_minutes
        for name in ("fired", "proposed", "accepted", "rejected", "pending"):
            data[name] = getattr(instance, name, 0)
        for name in ("created_at", "updated_at"):
            data[name] = serializers.DateTimeField().to_representation(getattr(instance, name))
        return data

    def save_rule(self) -> TriggerRule:
        """Create or change the rule (a configuration record: no use case beyond its validation)."""
        rule = self.instance or TriggerRule()
        for name, value in self.validated_data.items():
            setattr(rule, name, [dict(c) for c in value] if name == "conditions" else value)
        rule.full_clean()
        rule.save()
        return rule


class RecordRefSerializer(serializers.Serializer):
    id = StrictIntegerField()
    number = StrictCharField()


class TriggerFiringSerializer(serializers.ModelSerializer):
    incident = serializers.SerializerMethodField()
    major_incident = serializers.SerializerMethodField()

    class Meta:
        model = TriggerFiring
        fields = ["id", "incident", "event", "decision", "major_incident", "detail", "fired_at"]
        read_only_fields = fields

    @extend_schema(responses=RecordRefSerializer)
    def get_incident(self, firing: TriggerFiring) -> dict:
        return {"id": firing.incident_id, "number": firing.incident.number}

    @extend_schema(responses=RecordRefSerializer(allow_null=True))
    def get_major_incident(self, firing: TriggerFiring) -> dict | None:
        mi = firing.major_incident
        return {"id": mi.pk, "number": mi.number} if mi is not None else None


class TriggerRuleFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Text search on the name")
    active = django_filters.BooleanFilter()
    action = CommaSeparatedFilter(choices=TriggerAction.choices)

    class Meta:
        model = TriggerRule
        fields = ["active"]


class TriggerFiringFilterSet(django_filters.FilterSet):
    decision = CommaSeparatedFilter(choices=TriggerDecision.choices)

    class Meta:
        model = TriggerFiring
        fields = ["decision"]


class TriggerRuleViewSet(
    IdempotentCreateMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Trigger rules, ordered (first match wins): MIMs read, administrators create and change."""

    permission_classes = [ManagersReadAdministratorsWrite]
    serializer_class = TriggerRuleSerializer
    filterset_class = TriggerRuleFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["id", "name", "position"]
    ordering = ["position", "id"]

    def get_queryset(self):
        if self.action == "firings":
            return TriggerRule.objects.all()
        return triggers.with_stats(TriggerRule.objects.all())

    def retrieve(self, request, *args, **kwargs):
        rule = self.get_object()
        response = Response(self.get_serializer(rule).data)
        response["ETag"] = compute_etag(rule)
        return response

    def create(self, request, *args, **kwargs):
        """Create a rule (inactive unless `active` is true)."""
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        rule = body.save_rule()
        return self._respond(rule, status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        with transaction.atomic():
            rule = TriggerRule.objects.select_for_update().get(pk=self.get_object().pk)
            check_if_match(request, rule)
            body = self.get_serializer(rule, data=request.data, partial=True)
            body.is_valid(raise_exception=True)
            rule = body.save_rule()
        return self._respond(rule)

    def _respond(self, rule: TriggerRule, code: int = status.HTTP_200_OK) -> Response:
        rule = triggers.with_stats(TriggerRule.objects.filter(pk=rule.pk)).get()
        response = Response(self.get_serializer(rule).data, status=code)
        response["ETag"] = compute_etag(rule)
        return response

    @extend_schema(
        responses={200: TriggerFiringSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "decision", str, description="Comma-separated, any of: " + ", ".join(TriggerDecision.values)
            )
        ],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="firings",
        serializer_class=TriggerFiringSerializer,
        filter_backends=[],
    )
    def firings(self, request, pk=None):
        """The rule's firings, newest first: incident, event, decision, the major incident it made."""
        rule = self.get_object()
        rows = TriggerFiring.objects.filter(rule=rule).select_related("incident", "major_incident").order_by("-id")
        wanted = TriggerFiringFilterSet(request.query_params, queryset=rows)
        if not wanted.is_valid():
            raise serializers.ValidationError(wanted.errors)
        rows = wanted.qs
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(TriggerFiringSerializer(page, many=True).data)
