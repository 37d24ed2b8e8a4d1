"""Serializers of the configuration resources and of users (API.md "Fields integrators rely on")."""

import itertools

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from itsm import roles
from itsm.choices import SlaKind
from itsm.models import (
    AssignmentGroup,
    BusinessCalendar,
    Category,
    Holiday,
    PriorityMatrixEntry,
    Service,
    SlaPolicy,
    WorkingPeriod,
)
from itsm.models.calendars import format_minute, parse_minute, validate_periods
from itsm.models.sla import PAUSABLE_STATES, validate_actions

from .serializers import StrictModelSerializer, StrictSerializer

User = get_user_model()


class AssignmentGroupSerializer(StrictModelSerializer):
    members = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    manager = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    escalation_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = AssignmentGroup
        fields = ["id", "name", "email", "description", "members", "manager", "escalation_group", "active"]

    def validate_escalation_group(self, value):
        if value is not None and self.instance is not None and value.pk == self.instance.pk:
            raise serializers.ValidationError("A group cannot escalate to itself.")
        return value


class DecimalStringField(serializers.DecimalField):
    """A decimal as a JSON string ("1500.50"), in requests as in responses (what the schema says)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError('A decimal number as a string, e.g. "1500.50".')
        return super().to_internal_value(data)


class ServiceSerializer(StrictModelSerializer):
    owner_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), allow_null=True, required=False
    )
    downtime_cost_per_hour = DecimalStringField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Service
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "owner_group",
            "criticality",
            "downtime_cost_per_hour",
            "active",
        ]


class CategorySerializer(StrictModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "active"]
        validators = []  # uniqueness is checked in validate() with a clearer message

    def validate(self, attrs):
        parent = attrs.get("parent", self.instance.parent if self.instance else None)
        name = attrs.get("name", self.instance.name if self.instance else None)
        if parent is not None:
            if self.instance is not None and parent.pk == self.instance.pk:
                raise serializers.ValidationError({"parent": ["A category cannot be its own parent."]})
            if parent.parent_id:
                raise serializers.ValidationError({"parent": ["Only one level of subcategory is allowed."]})
            if self.instance is not None and self.instance.children.exists():
                raise serializers.ValidationError(
                    {"parent": ["A category with subcategories cannot itself have a parent."]}
                )
        clash = Category.objects.filter(name=name, parent=parent)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"name": ["A category with this name already exists here."]})
        return attrs


class PriorityMatrixEntrySerializer(StrictModelSerializer):
    class Meta:
        model = PriorityMatrixEntry
        fields = ["id", "impact", "urgency", "priority"]
        read_only_fields = ["impact", "urgency"]


class WorkingHoursSerializer(StrictSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="Monday 0 ... Sunday 6")
    start = serializers.CharField(help_text="HH:MM")
    end = serializers.CharField(help_text="HH:MM; 24:00 allowed")

    def validate_start(self, value):
        try:
            minute = parse_minute(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        if minute >= 24 * 60:
            raise serializers.ValidationError("A range cannot start at 24:00.")
        return value

    def validate_end(self, value):
        try:
            parse_minute(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class BusinessCalendarSerializer(StrictModelSerializer):
    working_hours = WorkingHoursSerializer(many=True, required=False)
    holidays = serializers.ListField(child=serializers.DateField(), required=False)

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "timezone", "description", "working_hours", "holidays"]

    def to_representation(self, instance):
        # Children are rendered here: the nested write fields do not read the related managers.
        data = {
            "id": instance.pk,
            "name": instance.name,
            "timezone": instance.timezone,
            "description": instance.description,
        }
        data["working_hours"] = [
            {"weekday": p.weekday, "start": format_minute(p.start_minute), "end": format_minute(p.end_minute)}
            for p in instance.working_periods.all()
        ]
        data["holidays"] = [h.date.isoformat() for h in instance.holidays.all()]
        return data

    def validate_working_hours(self, value):
        periods = [(p["weekday"], parse_minute(p["start"]), parse_minute(p["end"])) for p in value]
        problems = validate_periods(periods)
        if problems:
            raise serializers.ValidationError(problems)
        return periods

    def validate_holidays(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A holiday date is listed twice.")
        return value

    @transaction.atomic
    def create(self, validated_data):
        periods = validated_data.pop("working_hours", [])
        holidays = validated_data.pop("holidays", [])
        calendar = BusinessCalendar.objects.create(**validated_data)
        self._write_children(calendar, periods, holidays)
        return calendar

    @transaction.atomic
    def update(self, instance, validated_data):
        periods = validated_data.pop("working_hours", None)
        holidays = validated_data.pop("holidays", None)
        instance = super().update(instance, validated_data)
        self._write_children(instance, periods, holidays)
        return instance

    def _write_children(self, calendar, periods, holidays) -> None:
        if periods is not None:
            calendar.working_periods.all().delete()
            WorkingPeriod.objects.bulk_create(
                WorkingPeriod(calendar=calendar, weekday=w, start_minute=s, end_minute=e) for w, s, e in periods
            )
        if holidays is not None:
            calendar.holidays.all().delete()
            Holiday.objects.bulk_create(Holiday(calendar=calendar, date=d) for d in holidays)
        calendar.save(update_fields=["updated_at"])  # a children-only change still moves the ETag
        BusinessCalendar.touch(calendar.pk)  # bulk writes send no signal: every process reads the new value
        calendar.refresh_from_db(fields=["updated_at"])


class SlaPolicySerializer(StrictModelSerializer):
    kind = serializers.ChoiceField(choices=SlaKind.choices)
    priorities = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=5), allow_empty=False)
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), allow_null=True, required=False
    )
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    calendar = serializers.PrimaryKeyRelatedField(queryset=BusinessCalendar.objects.all())
    target_minutes = serializers.IntegerField(min_value=1)
    pause_states = serializers.ListField(child=serializers.ChoiceField(choices=PAUSABLE_STATES), required=False)
    warning_thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=99), required=False
    )
    actions = serializers.JSONField(required=False, validators=[validate_actions])

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "kind",
            "priorities",
            "service",
            "category",
            "target_minutes",
            "calendar",
            "pause_states",
            "warning_thresholds",
            "actions",
            "active",
        ]

    def validate_priorities(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("A priority is listed twice.")
        return sorted(value)

    def validate_warning_thresholds(self, value):
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise serializers.ValidationError("Warning thresholds must be strictly increasing.")
        return value


class UserSerializer(serializers.ModelSerializer):
    full_name = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "full_name", "email", "roles", "groups", "is_active"]

    def get_full_name(self, obj) -> str:
        return obj.get_full_name() or obj.username

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, obj) -> list[str]:
        names = [g.name for g in obj.groups.all() if g.name in roles.ALL_ROLES]
        return sorted(names)

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_groups(self, obj) -> list[int]:
        return sorted(g.pk for g in obj.assignment_groups.all())
