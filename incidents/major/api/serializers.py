"""Major incident API representations (API.md "Fields integrators rely on": major incident) and bodies.

Every record the API renders comes through `major_incident_queryset()`: counts as subqueries,
services, stakeholders and responders prefetched, so a page or a detail costs the same number
of queries whatever the number of linked incidents, updates or responders.
"""

from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, Max, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.choices import IncidentState, ResolutionCode
from incidents.major import impact, lifecycle
from incidents.major.choices import MajorIncidentState, MajorTransition
from incidents.major.models import MajorIncident, MajorIncidentSettings, Responder, StakeholderUpdate
from incidents.models import Incident
from itsm.api.filters import ID_MAX
from itsm.api.serializers import StrictSerializer
from itsm.models import Service

User = get_user_model()

RESPONDER_COLUMNS = ("id", "major_incident_id", "paged_at", "acknowledged_at", "released_at")


def _count(queryset, **annotations):
    """A correlated subquery of one aggregate over `queryset` (filtered on OuterRef), 0 if none."""
    ((name, aggregate),) = annotations.items()
    grouped = queryset.order_by().values("major_incident").annotate(**{name: aggregate}).values(name)[:1]
    return Coalesce(Subquery(grouped, output_field=IntegerField()), Value(0))


def major_incident_queryset():
    """Major incidents as MajorIncidentSerializer renders them (a constant number of queries)."""
    updates = StakeholderUpdate.objects.filter(major_incident=OuterRef("pk"))
    return MajorIncident.objects.annotate(
        linked_incident_count=_count(Incident.objects.filter(major_incident=OuterRef("pk")), n=Count("pk")),
        api_update_count=_count(updates, n=Count("pk")),
        api_updates_on_time=_count(updates, n=Count("pk", filter=Q(late_seconds=0))),
        api_worst_late_seconds=_count(updates, n=Max("late_seconds")),
    ).prefetch_related(
        Prefetch("affected_services", queryset=Service.objects.only("id", "slug", "downtime_cost_per_hour")),
        Prefetch("stakeholders", queryset=User.objects.only("id").order_by("id")),
        Prefetch("responders", queryset=Responder.objects.only(*RESPONDER_COLUMNS)),
    )


def cadence_compliance(mi: MajorIncident, now=None) -> dict:
    """How the stakeholder updates kept the cadence: counts, on-time share, worst lateness, overdue now.

    Reads the counts `major_incident_queryset()` annotates (one aggregate query otherwise).
    """
    if hasattr(mi, "api_update_count"):
        total, on_time, worst = mi.api_update_count, mi.api_updates_on_time, mi.api_worst_late_seconds
    else:
        agg = StakeholderUpdate.objects.filter(major_incident=mi).aggregate(
            total=Count("pk"), on_time=Count("pk", filter=Q(late_seconds=0)), worst=Max("late_seconds")
        )
        total, on_time, worst = agg["total"], agg["on_time"], agg["worst"] or 0
    now = now or timezone.now()
    return {
        "updates": total,
        "on_time": on_time,
        "late": total - on_time,
        "on_time_percent": round(100 * on_time / total) if total else None,
        "worst_late_seconds": worst,
        "overdue_now": bool(
            mi.state == MajorIncidentState.ACTIVE and mi.next_update_due_at is not None and mi.next_update_due_at < now
        ),
    }


class CadenceComplianceSerializer(serializers.Serializer):
    """Cadence compliance of the stakeholder updates (each update records its due time and lateness)."""

    updates = serializers.IntegerField()
    on_time = serializers.IntegerField()
    late = serializers.IntegerField()
    on_time_percent = serializers.IntegerField(allow_null=True, help_text="Null before the first update.")
    worst_late_seconds = serializers.IntegerField()
    overdue_now = serializers.BooleanField()


class MajorIncidentLinksSerializer(serializers.Serializer):
    """URLs of a major incident and its sub-resources."""

    self = serializers.URLField()
    transitions = serializers.URLField()
    timeline = serializers.URLField()
    incidents = serializers.URLField()
    responders = serializers.URLField()
    updates = serializers.URLField()
    review = serializers.URLField()
    console = serializers.URLField(required=False, help_text="The major incident's workbench in the console.")


class BlankAsNullURLField(serializers.URLField):
    """A URL stored as "" when unset, rendered as null ("" is not a valid `format: uri`)."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return value or None


MONEY = serializers.DecimalField(max_digits=16, decimal_places=2, coerce_to_string=True)


class MajorIncidentSerializer(serializers.ModelSerializer):
    """The major incident as integrators read it (render `major_incident_queryset()` rows)."""

    state = serializers.ChoiceField(choices=MajorIncidentState.choices, read_only=True)
    bridge_url = BlankAsNullURLField(read_only=True)
    affected_services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    stakeholders = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    estimated_cost = serializers.SerializerMethodField()
    response_effort_cost = serializers.SerializerMethodField()
    cadence_compliance = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    linked_incident_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = MajorIncident
        fields = [
            "id",
            "number",
            "incident",
            "state",
            "title",
            "manager",
            "comms_lead",
            "tech_lead",
            "bridge_url",
            "chat_channel",
            "affected_services",
            "impact_summary",
            "customers_affected",
            "impact_started_at",
            "detected_at",
            "declared_at",
            "mitigated_at",
            "resolved_at",
            "closed_at",
            "update_cadence_minutes",
            "next_update_due_at",
            "estimated_cost",
            "response_effort_cost",
            "cadence_compliance",
            "available_transitions",
            "links",
            "linked_incident_count",
            "reason",
            "stakeholders",
        ]
        read_only_fields = fields

    def _now(self):
        return self.context.setdefault("now", timezone.now())  # one moment for the whole page

    def _impact(self, obj) -> impact.BusinessImpact:
        cache = self.context.setdefault("impacts", {})
        if obj.pk not in cache:
            if "hourly_rate" not in self.context:
                self.context["hourly_rate"] = MajorIncidentSettings.current().responder_hourly_rate
            cache[obj.pk] = impact.business_impact(obj, self._now(), hourly_rate=self.context["hourly_rate"])
        return cache[obj.pk]

    @extend_schema_field(MONEY)
    def get_estimated_cost(self, obj) -> str:
        """Downtime cost: impact duration x the affected services' downtime cost per hour (live until resolved)."""
        return f"{self._impact(obj).estimated_cost:.2f}"

    @extend_schema_field(MONEY)
    def get_response_effort_cost(self, obj) -> str:
        """The responders' engaged time at the configured hourly rate; not part of estimated_cost."""
        return f"{self._impact(obj).response_effort_cost:.2f}"

    @extend_schema_field(CadenceComplianceSerializer)
    def get_cadence_compliance(self, obj) -> dict:
        return cadence_compliance(obj, self._now())

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=MajorTransition.choices)))
    def get_available_transitions(self, obj) -> list[str]:
        """The transitions the requesting user may run now."""
        request = self.context.get("request")
        return lifecycle.available_transitions(obj, request.user) if request else []

    @extend_schema_field(MajorIncidentLinksSerializer)
    def get_links(self, obj) -> dict[str, str]:
        request = self.context.get("request")
        absolute = request.build_absolute_uri if request is not None else str
        base = absolute(reverse("major-incident-detail", args=[obj.pk]))
        links = {
            name: f"{base}{name}/"
            for name in ("transitions", "timeline", "incidents", "responders", "updates", "review")
        }
        links = {"self": base, **links}
        try:
            links["console"] = absolute(reverse("admin:incidents_majorincident_change", args=[obj.pk]))
        except NoReverseMatch:
            pass
        return links


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": ID_MAX},
            {"type": "string", "pattern": "^(INC)?[0-9]{1,12}$"},
        ],
        "description": "An incident id or number (INC0000123).",
    }
)
class IncidentRefField(serializers.Field):
    """An incident named by id or by number; resolved (and refused when unknown) by the service."""

    default_error_messages = {"invalid": "An incident id or number (INC0000123)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str) or (isinstance(data, str) and not data.strip()):
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


def _user_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, allow_null=True, required=False, **kwargs)


class MajorIncidentFieldsSerializer(StrictSerializer):
    """The record's editable fields (people by user id, services by slug); the service validates them."""

    read_only_names = frozenset(MajorIncidentSerializer.Meta.fields)

    title = serializers.CharField(max_length=255, required=False)
    manager = _user_field(help_text="The major incident manager (incident commander).")
    comms_lead = _user_field()
    tech_lead = _user_field()
    bridge_url = serializers.URLField(max_length=500, allow_blank=True, allow_null=True, required=False)
    chat_channel = serializers.CharField(max_length=200, allow_blank=True, required=False)
    affected_services = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=200, required=False, help_text="Service slugs."
    )
    impact_summary = serializers.CharField(max_length=100_000, allow_blank=True, required=False)
    customers_affected = serializers.IntegerField(min_value=0, max_value=2**31 - 1, allow_null=True, required=False)
    impact_started_at = serializers.DateTimeField(allow_null=True, required=False)
    detected_at = serializers.DateTimeField(allow_null=True, required=False)
    mitigated_at = serializers.DateTimeField(allow_null=True, required=False)
    update_cadence_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    stakeholders = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), max_length=500, required=False
    )


class MajorIncidentCreateSerializer(MajorIncidentFieldsSerializer):
    """Body of POST /major-incidents/: propose (or, for Major Incident Managers, declare at once)."""

    read_only_names = frozenset(MajorIncidentSerializer.Meta.fields) - {"incident", "reason"}

    incident = IncidentRefField(help_text="The primary incident (id or number).")
    reason = serializers.CharField(max_length=10_000, help_text="Why this is a major incident.")
    declare = serializers.BooleanField(default=False, help_text="Declare at once (Major Incident Managers only).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("mitigated_at")


class MajorIncidentUpdateSerializer(MajorIncidentFieldsSerializer):
    """Body of PATCH /major-incidents/{id}/ (state changes through transitions only)."""


class MajorTransitionBodySerializer(StrictSerializer):
    """Union of the transition bodies; which fields a transition takes is checked by the service."""

    manager = _user_field(help_text="declare: the manager (default: you).")
    comms_lead = _user_field(help_text="declare")
    tech_lead = _user_field(help_text="declare")
    bridge_url = serializers.URLField(
        max_length=500, allow_blank=True, allow_null=True, required=False, help_text="declare"
    )
    chat_channel = serializers.CharField(max_length=200, allow_blank=True, required=False, help_text="declare")
    reason = serializers.CharField(max_length=10_000, allow_blank=True, required=False, help_text="reject (required)")
    resolve_linked = serializers.BooleanField(required=False, help_text="resolve: resolve every open linked incident")
    resolution_code = serializers.ChoiceField(
        choices=ResolutionCode.choices, required=False, help_text="resolve (required with resolve_linked)"
    )
    resolution_notes = serializers.CharField(
        max_length=100_000, allow_blank=True, required=False, help_text="resolve (required with resolve_linked)"
    )


class MajorTransitionInfoSerializer(serializers.Serializer):
    """A transition the user may run now, with the body fields it takes."""

    name = serializers.ChoiceField(choices=MajorTransition.choices)
    label = serializers.CharField()
    required_fields = serializers.ListField(child=serializers.CharField())
    optional_fields = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()


class MergedTimelineEntrySerializer(serializers.Serializer):
    """One entry of the merged timeline: the major incident's own events and its incidents'."""

    id = serializers.IntegerField()
    type = serializers.CharField(help_text="A major incident or incident timeline type (API.md timeline event).")
    actor = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField()
    data = serializers.DictField()
    record = serializers.CharField(help_text="The number of the record the entry belongs to (MIM... or INC...).")


class LinkedIncidentSerializer(serializers.ModelSerializer):
    """An incident linked to the major incident (the primary one included)."""

    state = serializers.ChoiceField(choices=IncidentState.choices, read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    primary = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "number",
            "title",
            "state",
            "priority",
            "service",
            "assignment_group",
            "assignee",
            "opened_at",
            "resolved_at",
            "primary",
        ]
        read_only_fields = fields

    def get_primary(self, obj) -> bool:
        """Whether this is the major incident's primary incident."""
        mi = self.context.get("major_incident")
        return mi is not None and obj.pk == mi.incident_id


class LinkIncidentsSerializer(StrictSerializer):
    """Body of POST /major-incidents/{id}/incidents/."""

    incidents = serializers.ListField(child=IncidentRefField(), min_length=1, max_length=1000)
