"""Incident API representations (API.md "Fields integrators rely on": incident, comment, timeline event)."""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents import services
from incidents.choices import Channel, HoldReason, IncidentState, ResolutionCode, TimelineType, Transition, Visibility
from incidents.major.choices import Audience, UpdateStatus
from incidents.major.models import MajorIncident, StakeholderUpdate
from incidents.models import Comment, Incident, SlaClock, TimelineEvent
from incidents.models.sla import ClockStage
from incidents.sla import clock_view
from itsm.api.serializers import StrictSerializer
from itsm.choices import Impact, SlaKind
from itsm.models import AssignmentGroup, Category, Service, SlaPolicy

User = get_user_model()

LEVEL = Impact.choices  # impact and urgency share the 1 (high) .. 3 (low) scale

# What `sla.clock_view` reads from a clock (besides its policy, prefetched with its calendar).
CLOCK_COLUMNS = (
    "id",
    "incident_id",
    "policy_id",
    "kind",
    "stage",
    "target_seconds",
    "started_at",
    "elapsed_seconds",
    "paused_seconds",
    "running_since",
    "due_at",
    "breached_at",
    "stopped_at",
)

# The latest external stakeholder update of each major incident on the page (one row per record,
# sliced in the database with a window function).
LATEST_EXTERNAL_UPDATE = Prefetch(
    "updates",
    queryset=StakeholderUpdate.objects.filter(audience=Audience.EXTERNAL).order_by("-posted_at", "-id")[:1],
    to_attr="api_latest_external_update",
)

# The related rows IncidentSerializer renders, loaded once per page (three queries at any page size):
# watchers as ids, SLA clocks in id order, their distinct policies with calendars; and, only when
# some incident of the page has a major incident (a lookup of no id runs no query), that record
# with its latest external update (two more). Every incident the API renders comes through
# `incident_queryset()`, so the representation never runs a query per row.
INCIDENT_PREFETCHES = (
    Prefetch("watchers", queryset=User.objects.only("id").order_by("id"), to_attr="api_watchers"),
    Prefetch(
        "sla_clocks",
        # The page's distinct policies with their calendars in one more query, shared by their clocks.
        queryset=SlaClock.objects.only(*CLOCK_COLUMNS)
        .prefetch_related(Prefetch("policy", queryset=SlaPolicy.objects.select_related("calendar")))
        .order_by("id"),
        to_attr="api_clocks",
    ),
    Prefetch(
        "major_incident",
        queryset=MajorIncident.objects.only("id").prefetch_related(LATEST_EXTERNAL_UPDATE),
    ),
)


def incident_queryset():
    """Incidents as IncidentSerializer renders them: the service joined, watchers and clocks prefetched."""
    return Incident.objects.select_related("service").prefetch_related(*INCIDENT_PREFETCHES)


class SlaClockSerializer(serializers.Serializer):
    """One SLA clock (API.md "SLA clock"); schema of `incidents.sla.clock_view`."""

    policy = serializers.IntegerField()
    policy_name = serializers.CharField()
    kind = serializers.ChoiceField(choices=SlaKind.choices)
    stage = serializers.ChoiceField(choices=ClockStage.choices)
    started_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(allow_null=True, help_text="Null while paused.")
    breached_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    elapsed_seconds = serializers.IntegerField()
    paused_seconds = serializers.IntegerField()
    remaining_seconds = serializers.IntegerField(help_text="Frozen while paused.")
    percent = serializers.FloatField(help_text="Elapsed share of the target, in percent.")


class BlankAsNullChoiceField(serializers.ChoiceField):
    """A choice stored as "" when unset, rendered as null (a generated client's enum has no "")."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class BlankAsNullEmailField(serializers.EmailField):
    """An email address stored as "" when unset, rendered as null (not a valid `format: email`)."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


class MajorIncidentUpdateBriefSerializer(serializers.Serializer):
    """The latest external stakeholder update of the incident's major incident."""

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=UpdateStatus.choices)
    body = serializers.CharField()
    posted_at = serializers.DateTimeField()


class IncidentLinksSerializer(serializers.Serializer):
    """URLs of an incident and its sub-resources (absolute when rendered for a request)."""

    self = serializers.URLField()
    transitions = serializers.URLField()
    comments = serializers.URLField()
    timeline = serializers.URLField()
    console = serializers.URLField(required=False, help_text="The agents' console page.")


@extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
class UserIdsField(serializers.Field):
    """Users (prefetched instances) rendered as their ids."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        return [user.pk for user in value]


class IncidentSerializer(serializers.ModelSerializer):
    """The incident as integrators read it (render `incident_queryset()` rows)."""

    state = serializers.ChoiceField(choices=IncidentState.choices, read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    caller_email = BlankAsNullEmailField(read_only=True)
    hold_reason = BlankAsNullChoiceField(choices=HoldReason.choices, read_only=True)
    resolution_code = BlankAsNullChoiceField(choices=ResolutionCode.choices, read_only=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    problem = serializers.SerializerMethodField()
    major_incident = serializers.SerializerMethodField()
    major_incident_update = serializers.SerializerMethodField()
    watchers = UserIdsField(source="api_watchers")
    available_transitions = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

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
            "caused_by_change",
            "caused_by_change_summary",
            "parent",
            "problem",
            "major_incident",
            "major_incident_update",
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

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_problem(self, obj) -> int | None:
        """The id of the problem this incident is linked to (null when none)."""
        return obj.problem_id

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_major_incident(self, obj) -> int | None:
        """The major incident's id, or null."""
        return getattr(obj, "major_incident_id", None)

    @extend_schema_field(MajorIncidentUpdateBriefSerializer(allow_null=True))
    def get_major_incident_update(self, obj) -> dict | None:
        """The latest external update of the major incident (prefetched by `incident_queryset()`), or null."""
        if obj.major_incident_id is None:
            return None
        if Incident.major_incident.is_cached(obj):
            latest = getattr(obj.major_incident, "api_latest_external_update", None)
        else:
            latest = None
        if latest is None:  # rendered from another queryset: read it
            latest = list(
                StakeholderUpdate.objects.filter(
                    major_incident_id=obj.major_incident_id, audience=Audience.EXTERNAL
                ).order_by("-posted_at", "-id")[:1]
            )
        return MajorIncidentUpdateBriefSerializer(latest[0]).data if latest else None

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Transition.choices)))
    def get_available_transitions(self, obj) -> list[str]:
        """The transitions the requesting user may run now."""
        request = self.context.get("request")
        return services.available_transitions(obj, request.user) if request else []

    @extend_schema_field(SlaClockSerializer(many=True))
    def get_sla(self, obj) -> list[dict]:
        """Every clock, cancelled ones included (prefetched with their policies and calendars)."""
        clocks = obj.api_clocks
        now = self.context.setdefault("now", timezone.now())  # one moment for the whole page
        return [clock_view(clock, now) for clock in clocks]

    @extend_schema_field(IncidentLinksSerializer)
    def get_links(self, obj) -> dict[str, str]:
        """`self`, the sub-resources and the incident's page in the console."""
        request = self.context.get("request")
        absolute = request.build_absolute_uri if request is not None else str
        base = absolute(reverse("incident-detail", args=[obj.pk]))
        links = {
            "self": base,
            "transitions": f"{base}transitions/",
            "comments": f"{base}comments/",
            "timeline": f"{base}timeline/",
        }
        links["console"] = absolute(reverse("admin:incidents_incident_change", args=[obj.pk]))
        return links


class CachedServiceField(serializers.SlugRelatedField):
    """A service by slug from the per-process service cache the alert intake keeps
    (`incidents.alerts.services.service_by_slug`: owner group joined, invalidated in every process
    when a service or group changes). Same answers and errors as SlugRelatedField; the instance is
    shared between requests, so it is only read."""

    def run_validation(self, data=serializers.empty):
        if data == "":  # DRF reads "" as null; the schema says a slug (null is how to say none)
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().run_validation(data)

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
    caller_email = serializers.EmailField(
        allow_blank=True, allow_null=True, required=False, help_text='null or "" clears it.'
    )
    assignment_group = serializers.PrimaryKeyRelatedField(
        queryset=AssignmentGroup.objects.all(), allow_null=True, required=False
    )
    assignee = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), allow_null=True, required=False)
    parent = serializers.PrimaryKeyRelatedField(queryset=Incident.objects.all(), allow_null=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=50)
    caused_by_change = serializers.CharField(
        max_length=255, allow_blank=True, required=False, help_text="The change that caused it: a number or URL."
    )
    caused_by_change_summary = serializers.CharField(max_length=10_000, allow_blank=True, required=False)
    watchers = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), many=True, required=False)

    def validate_caller_email(self, value):
        return value or ""  # stored blank when unset (rendered as null)

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
    """A transition the user may run now, with the body fields it needs."""

    name = serializers.ChoiceField(choices=Transition.choices)
    label = serializers.CharField()
    required_fields = serializers.ListField(child=serializers.CharField())
    optional_fields = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()


class CommentSerializer(serializers.ModelSerializer):
    """A public comment or an internal work note."""

    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)
    body = serializers.CharField(max_length=100_000)

    class Meta:
        model = Comment
        fields = ["id", "body", "visibility", "author", "created_at"]
        read_only_fields = ["id", "author", "created_at"]


class CommentWriteSerializer(StrictSerializer):
    """Body of POST /incidents/{id}/comments/."""

    body = serializers.CharField(max_length=100_000)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)


class TimelineEventSerializer(serializers.ModelSerializer):
    """An append-only timeline event; `data` depends on `type` (API.md "timeline event")."""

    type = serializers.ChoiceField(choices=TimelineType.choices, read_only=True)
    data = serializers.DictField(read_only=True)

    class Meta:
        model = TimelineEvent
        fields = ["id", "type", "actor", "at", "data"]
        read_only_fields = fields
