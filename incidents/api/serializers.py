"""Incident API representations (API.md "Fields integrators rely on": incident, comment, timeline event)."""

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from incidents import services
from incidents.choices import Channel, HoldReason, ResolutionCode, Visibility
from incidents.models import Comment, Incident, TimelineEvent
from itsm.api.serializers import StrictSerializer
from itsm.choices import Impact
from itsm.models import AssignmentGroup, Category, Service

User = get_user_model()

LEVEL = Impact.choices  # impact and urgency share the 1 (high) .. 3 (low) scale


class SlaClockSerializer(serializers.Serializer):
    """One SLA clock (API.md "SLA clock")."""

    policy = serializers.IntegerField()
    kind = serializers.CharField()
    stage = serializers.CharField()
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    elapsed_seconds = serializers.IntegerField()
    paused_seconds = serializers.IntegerField()
    remaining_seconds = serializers.IntegerField()


_MARK = "9876543210"  # a placeholder id: reversed once, then split around


def _around_id(name: str) -> tuple[str, str] | None:
    """(prefix, suffix) of the URL named `name` for any incident id, or None when not routed."""
    try:
        path = reverse(name, args=[_MARK])
    except NoReverseMatch:
        return None
    prefix, _, suffix = path.partition(_MARK)
    return prefix, suffix


def _field_kinds(fields) -> list[tuple[str, str, str]]:
    """(name, how, detail) per field of an IncidentSerializer, in output order (see _plan)."""
    kinds = []
    for name, field in fields.items():
        if isinstance(field, serializers.SerializerMethodField):
            kinds.append((name, "method", field.method_name))
        elif name == "service" and isinstance(field, serializers.SlugRelatedField):
            kinds.append((name, "service", ""))
        elif name == "watchers" and isinstance(field, serializers.ManyRelatedField):
            kinds.append((name, "watchers", ""))
        elif isinstance(field, serializers.PrimaryKeyRelatedField):
            kinds.append((name, "attr", Incident._meta.get_field(name).attname))  # the id, never a query
        elif isinstance(field, serializers.DateTimeField):
            kinds.append((name, "datetime", ""))
        elif isinstance(field, serializers.IntegerField):
            kinds.append((name, "int", ""))
        elif isinstance(field, serializers.ChoiceField | serializers.JSONField):
            kinds.append((name, "attr", name))  # both render the stored value as it is
        elif isinstance(field, serializers.CharField):
            kinds.append((name, "str", ""))
        else:
            kinds.append((name, "field", ""))
    return kinds


def _datetime_renderer():
    """DRF's DateTimeField.to_representation for aware values, with the zone looked up once."""
    reference = serializers.DateTimeField()
    output_format = api_settings.DATETIME_FORMAT
    if output_format is None or output_format.lower() == ISO_8601:
        return reference.to_representation
    zone = timezone.get_current_timezone()

    def render(value):
        if isinstance(value, datetime) and timezone.is_aware(value):
            return value.astimezone(zone).strftime(output_format)
        return reference.to_representation(value)

    return render


class IncidentSerializer(serializers.ModelSerializer):
    """The incident as integrators read it."""

    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    problem = serializers.SerializerMethodField()
    major_incident = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    watchers = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "description",
            "state",
            "impact",
            "urgency",
            "priority",
            "channel",
            "service",
            "category",
            "caller",
            "caller_name",
            "caller_email",
            "assignment_group",
            "assignee",
            "watchers",
            "tags",
            "hold_reason",
            "resolution_code",
            "resolution_notes",
            "parent",
            "problem",
            "major_incident",
            "dedup_key",
            "alert_count",
            "alert_source",
            "alert_first_seen_at",
            "alert_last_seen_at",
            "opened_at",
            "responded_at",
            "resolved_at",
            "closed_at",
            "updated_at",
            "reassignment_count",
            "reopen_count",
            "version",
            "available_transitions",
            "sla",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_problem(self, obj) -> int | None:
        return getattr(obj, "problem_id", None)

    @extend_schema_field(OpenApiTypes.INT)
    def get_major_incident(self, obj) -> int | None:
        return getattr(obj, "major_incident_id", None)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_available_transitions(self, obj) -> list[str]:
        request = self.context.get("request")
        return services.available_transitions(obj, request.user) if request else []

    @extend_schema_field(SlaClockSerializer(many=True))
    def get_sla(self, obj) -> list[dict]:
        from incidents.sla import clock_view

        # The view loads clocks as plain rows with their policy (`incidents.api.related`); any other
        # caller gets the model's clocks with their policies and calendars.
        clocks = getattr(obj, "_api_clocks", None)
        if clocks is None:
            clocks = list(obj.sla_clocks.select_related("policy__calendar"))
        now = timezone.now()
        return [clock_view(clock, now) for clock in clocks]

    def _link_parts(self) -> tuple[tuple[str, str], tuple[str, str] | None]:
        """The detail and console URLs around the id, absolute when there is a request.

        Reversed and made absolute once per serializer (a list page's rows share its child
        serializer), then each row only formats its id in.
        """
        parts = getattr(self, "_links_cache", None)
        if parts is None:
            request = self.context.get("request")
            detail = _around_id("incident-detail")
            console = _around_id("admin:incidents_incident_change")
            if request is not None:
                root = request.build_absolute_uri("/").rstrip("/")
                detail = (root + detail[0], detail[1])
                console = (root + console[0], console[1]) if console else None
            parts = self._links_cache = (detail, console)
        return parts

    _class_plan: list[tuple[str, str, str]] | None = None

    def _plan(self) -> list[tuple[str, str, Any]]:
        """How each field is rendered: (name, how, detail), bound once per serializer instance.

        ModelSerializer's generic loop (deep-copied field objects, get_attribute and
        to_representation per field and row) was most of a list page's serializer time. The hot
        path renders the same values straight from the instance; the field kinds are worked out
        once per class from the declared fields, so a request never builds `self.fields`.
        `to_representation_generic` is DRF's own loop, and a test compares both on incidents in
        every state with every field set and unset.
        """
        plan = self.__dict__.get("_bound_plan")
        if plan is not None:
            return plan
        cls = type(self)
        if cls._class_plan is None:
            cls._class_plan = _field_kinds(self.fields)
        plan = []
        for name, how, detail in cls._class_plan:
            if how == "method":
                plan.append((name, how, getattr(self, detail)))
            elif how == "datetime":
                plan.append((name, how, _datetime_renderer()))
            elif how == "field":
                plan.append((name, how, self.fields[name]))
            else:
                plan.append((name, how, detail))
        self.__dict__["_bound_plan"] = plan
        return plan

    def to_representation(self, instance):
        data = {}
        for name, how, detail in self._plan():
            if how == "attr":
                data[name] = getattr(instance, detail)
            elif how == "str":
                value = getattr(instance, name)
                data[name] = None if value is None else str(value)
            elif how == "int":
                value = getattr(instance, name)
                data[name] = None if value is None else int(value)
            elif how == "datetime":
                value = getattr(instance, name)
                data[name] = detail(value) if value else None
            elif how == "method":
                data[name] = detail(instance)
            elif how == "service":
                data[name] = instance.service.slug if instance.service_id is not None else None
            elif how == "watchers":
                ids = getattr(instance, "_api_watchers", None)
                data[name] = ids if ids is not None else [user.pk for user in instance.watchers.all()]
            else:
                attribute = detail.get_attribute(instance)
                data[name] = None if attribute is None else detail.to_representation(attribute)
        return data

    def to_representation_generic(self, instance):
        """DRF's generic rendering (the reference the hot path must equal)."""
        return super().to_representation(instance)

    @extend_schema_field(serializers.DictField(child=serializers.URLField()))
    def get_links(self, obj) -> dict[str, str]:
        (before, after), console = self._link_parts()
        base = f"{before}{obj.pk}{after}"
        links = {
            "self": base,
            "transitions": f"{base}transitions/",
            "comments": f"{base}comments/",
            "timeline": f"{base}timeline/",
        }
        if console:
            links["console"] = f"{console[0]}{obj.pk}{console[1]}"
        return links


class CachedServiceField(serializers.SlugRelatedField):
    """A service by slug from the per-process service cache the alert intake keeps
    (`incidents.alerts.services.service_by_slug`: owner group joined, invalidated in every process
    when a service or group changes). Same answers and errors as SlugRelatedField; the instance is
    shared between requests, so it is only read."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            return super().to_internal_value(data)  # DRF's own answer for odd types
        from incidents.alerts.services import service_by_slug

        service = service_by_slug(data)
        if service is None:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return service


class IncidentWriteSerializer(StrictSerializer):
    """Body of POST /incidents/ and PATCH /incidents/{id}/ (state is changed by transitions only)."""

    read_only_names = frozenset(IncidentSerializer.Meta.fields)

    title = serializers.CharField(max_length=255)
    description = serializers.CharField(allow_blank=True, required=False, max_length=100_000)
    service = CachedServiceField(slug_field="slug", queryset=Service.objects.all(), allow_null=True, required=False)
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    impact = serializers.ChoiceField(choices=LEVEL, required=False)
    urgency = serializers.ChoiceField(choices=LEVEL, required=False)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)
    caller = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    caller_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    caller_email = serializers.EmailField(allow_blank=True, required=False)
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), allow_null=True, required=False
    )
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    parent = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all(), allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    watchers = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.partial:
            # Channel and watchers are set at creation; later, watchers have their own calls.
            self.fields.pop("channel")
            self.fields.pop("watchers")


class TransitionBodySerializer(StrictSerializer):
    """Union of the transition bodies; which fields a transition takes is checked by the service."""

    assignment_group = serializers.PrimaryKeyRelatedField(queryset=AssignmentGroup.objects.all(), required=False)
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    hold_reason = serializers.ChoiceField(choices=HoldReason.choices, required=False)
    resolution_code = serializers.ChoiceField(choices=ResolutionCode.choices, required=False)
    resolution_notes = serializers.CharField(required=False, allow_blank=True, max_length=100_000)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=10_000)


class TransitionInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    required_fields = serializers.ListField(child=serializers.CharField())
    optional_fields = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField()


class CommentSerializer(serializers.ModelSerializer):
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)
    body = serializers.CharField(max_length=100_000)

    class Meta:
        model = Comment
        fields = ["id", "body", "visibility", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class CommentWriteSerializer(StrictSerializer):
    body = serializers.CharField(max_length=100_000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["id", "type", "actor", "at", "data"]
        read_only_fields = fields
