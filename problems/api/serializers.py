"""Problem API representations (API.md "Fields integrators rely on": problem, timeline event) and bodies.

Every problem the API renders comes through `problem_queryset()`: the service joined, the linked
incidents' and major incidents' ids prefetched, the known error's id as a subquery, so a page
costs the same number of queries whatever its size or the number of links.
"""

from django.db.models import OuterRef, Prefetch, Subquery
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import LEVEL, CachedServiceField
from incidents.choices import IncidentState
from incidents.models import Incident, MajorIncident
from itsm.api.filters import ID_MAX
from itsm.api.serializers import StrictSerializer
from itsm.models import Service
from problems import lifecycle
from problems.choices import ProblemSource, ProblemState, ProblemTimelineType, ProblemTransition, RcaMethod
from problems.models import KnownError, Problem, ProblemEvent

from .common import IncidentRefField, MajorIncidentRefField, ProblemRefField


def problem_queryset():
    """Problems as ProblemSerializer renders them (three queries for any page: rows, incident ids,
    major incident ids)."""
    return (
        Problem.objects.select_related("service")
        .annotate(api_known_error=Subquery(KnownError.objects.filter(problem=OuterRef("pk")).values("pk")[:1]))
        .prefetch_related(
            Prefetch(
                "incidents", queryset=Incident.objects.only("id", "problem_id").order_by("id"), to_attr="api_incidents"
            ),
            Prefetch(
                "major_incidents",
                queryset=MajorIncident.objects.only("id", "problem_id").order_by("id"),
                to_attr="api_major_incidents",
            ),
        )
    )


class ProblemLinksSerializer(serializers.Serializer):
    """URLs of a problem and its sub-resources."""

    self = serializers.URLField()
    timeline = serializers.URLField()
    incidents = serializers.URLField()
    major_incidents = serializers.URLField()
    transitions = serializers.URLField()


IDS = serializers.ListField(child=serializers.IntegerField())


class ProblemSerializer(serializers.ModelSerializer):
    """The problem as integrators read it (render `problem_queryset()` rows)."""

    state = serializers.ChoiceField(choices=ProblemState.choices, read_only=True)
    source = serializers.ChoiceField(choices=ProblemSource.choices, read_only=True)
    rca_method = serializers.ChoiceField(choices=[("", "None"), *RcaMethod.choices], read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    impact = serializers.ChoiceField(choices=LEVEL, read_only=True)
    urgency = serializers.ChoiceField(choices=LEVEL, read_only=True)
    rca_notes = serializers.DictField(read_only=True)
    contributing_factors = serializers.ListField(child=serializers.CharField(), read_only=True)
    incidents = serializers.SerializerMethodField()
    major_incidents = serializers.SerializerMethodField()
    known_error = serializers.SerializerMethodField()
    incident_count = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Problem
        fields = [
            # API.md "problem"
            "id",
            "number",
            "title",
            "description",
            "state",
            "service",
            "category",
            "impact",
            "urgency",
            "priority",
            "assignment_group",
            "owner",
            "source",
            "root_cause",
            "workaround",
            "fix",
            "lessons_learned",
            "incidents",
            # the record's own
            "rca_method",
            "rca_notes",
            "contributing_factors",
            "fix_reference",
            "cancel_reason",
            "duplicate_of",
            "major_incidents",
            "known_error",
            "recurrence_count",
            "incident_count",
            "opened_at",
            "investigating_at",
            "known_error_at",
            "resolved_at",
            "closed_at",
            "cancelled_at",
            "updated_at",
            "available_transitions",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(IDS)
    def get_incidents(self, obj) -> list[int]:
        """Ids of the linked incidents."""
        return [i.pk for i in obj.api_incidents]

    @extend_schema_field(IDS)
    def get_major_incidents(self, obj) -> list[int]:
        """Ids of the linked major incidents."""
        return [m.pk for m in obj.api_major_incidents]

    def get_known_error(self, obj) -> int | None:
        """The id of the known error article (null until `mark_known_error`)."""
        return obj.api_known_error

    def get_incident_count(self, obj) -> int:
        return len(obj.api_incidents)

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ProblemTransition.choices)))
    def get_available_transitions(self, obj) -> list[str]:
        """The transitions the requesting user may run now."""
        request = self.context.get("request")
        return lifecycle.available_transitions(obj, request.user) if request else []

    @extend_schema_field(ProblemLinksSerializer)
    def get_links(self, obj) -> dict[str, str]:
        request = self.context.get("request")
        absolute = request.build_absolute_uri if request is not None else str
        base = absolute(reverse("problem-detail", args=[obj.pk]))
        paths = {
            "timeline": "timeline",
            "incidents": "incidents",
            "major_incidents": "major-incidents",
            "transitions": "transitions",
        }
        return {"self": base, **{name: f"{base}{path}/" for name, path in paths.items()}}


def _id_field(**kwargs):
    return serializers.IntegerField(min_value=1, max_value=ID_MAX, allow_null=True, required=False, **kwargs)


def _text(max_length: int = 100_000, **kwargs):
    return serializers.CharField(max_length=max_length, allow_blank=True, allow_null=True, required=False, **kwargs)


class ProblemFieldsSerializer(StrictSerializer):
    """The record's editable fields (people and groups by id, services by slug); the use case
    validates them together (unknown references, owners who may not own, RCA notes' shape)."""

    read_only_names = frozenset(ProblemSerializer.Meta.fields)

    title = serializers.CharField(max_length=255, required=False)
    description = _text()
    service = CachedServiceField(slug_field="slug", queryset=Service.objects.all(), allow_null=True, required=False)
    category = _id_field(help_text="A category id.")
    impact = serializers.ChoiceField(choices=LEVEL, required=False)
    urgency = serializers.ChoiceField(choices=LEVEL, required=False)
    assignment_group = _id_field(help_text="An assignment group id.")
    owner = _id_field(help_text="The owning Problem Manager's user id.")
    rca_method = serializers.ChoiceField(choices=[("", "None"), *RcaMethod.choices], required=False)
    rca_notes = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text='five_whys: {"whys": [{"why", "answer"}, ...]}; fishbone: {"causes": {"<category>": ["cause"]}}; '
        'timeline, other: {"text": "..."}.',
    )
    root_cause = _text()
    contributing_factors = serializers.ListField(
        child=serializers.CharField(max_length=1000), max_length=100, allow_null=True, required=False
    )
    workaround = _text()
    fix = _text(help_text="The permanent fix.")
    fix_reference = _text(max_length=255, help_text="The change or commit that carries the fix.")
    lessons_learned = _text()

    def validate_rca_notes(self, value):
        if value is not None and not isinstance(value, dict):
            raise serializers.ValidationError("An object (see the method's shape).")
        return value


class ProblemCreateSerializer(ProblemFieldsSerializer):
    """Body of POST /problems/: the fields, a source, and incidents to link at once."""

    read_only_names = frozenset(ProblemSerializer.Meta.fields) - {"incidents", "source"}

    title = serializers.CharField(max_length=255)
    source = serializers.ChoiceField(
        choices=[ProblemSource.MANUAL, ProblemSource.REACTIVE],
        default=ProblemSource.MANUAL,
        help_text="manual, or reactive (raised from incidents); proactive problems come from trend detection.",
    )
    incidents = serializers.ListField(
        child=IncidentRefField(), min_length=1, max_length=1000, required=False, help_text="Incidents to link."
    )
    move = serializers.BooleanField(
        default=False, help_text="Move incidents another open problem holds (else 409 naming it)."
    )


class ProblemUpdateSerializer(ProblemFieldsSerializer):
    """Body of PATCH /problems/{id}/ (state changes through transitions only)."""


class ProblemTransitionBodySerializer(StrictSerializer):
    """Union of the transition bodies; which fields a transition takes is checked by the use case
    (a field of another transition is a 400 naming it)."""

    owner = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False, help_text="investigate")
    root_cause = _text(help_text="mark_known_error (this and/or workaround)")
    workaround = _text(help_text="mark_known_error (this and/or root_cause)")
    fix = _text(help_text="resolve (required unless set before)")
    fix_reference = _text(max_length=255, help_text="resolve")
    resolve_linked = serializers.BooleanField(required=False, help_text="resolve: resolve every open linked incident")
    lessons_learned = _text(help_text="close (required unless set before)")
    reason = serializers.CharField(max_length=10_000, allow_blank=True, required=False, help_text="cancel (required)")
    duplicate_of = ProblemRefField(required=False, help_text="cancel: the surviving open problem")


class ProblemTransitionInfoSerializer(serializers.Serializer):
    """A transition the user may run now, with the body fields it takes."""

    name = serializers.ChoiceField(choices=ProblemTransition.choices)
    label = serializers.CharField()
    required_fields = serializers.ListField(child=serializers.CharField())
    optional_fields = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()


class ProblemEventSerializer(serializers.ModelSerializer):
    """An append-only problem timeline event; `data` depends on `type` (API.md "timeline event")."""

    type = serializers.ChoiceField(choices=ProblemTimelineType.choices, read_only=True)
    data = serializers.DictField(read_only=True)

    class Meta:
        model = ProblemEvent
        fields = ["id", "type", "actor", "at", "data"]
        read_only_fields = fields


class ProblemIncidentSerializer(serializers.ModelSerializer):
    """An incident linked to the problem."""

    state = serializers.ChoiceField(choices=IncidentState.choices, read_only=True)
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = ["id", "number", "title", "state", "priority", "service", "assignment_group", "assignee", "opened_at"]
        read_only_fields = fields


class ProblemMajorIncidentSerializer(serializers.ModelSerializer):
    """A major incident linked to the problem."""

    class Meta:
        model = MajorIncident
        fields = ["id", "number", "title", "state"]
        read_only_fields = fields


class ProblemLinkIncidentsSerializer(StrictSerializer):
    """Body of POST /problems/{id}/incidents/."""

    incidents = serializers.ListField(child=IncidentRefField(), min_length=1, max_length=1000)
    move = serializers.BooleanField(
        default=False, help_text="Move incidents another open problem holds (else 409 naming it)."
    )


class ProblemLinkMajorIncidentsSerializer(StrictSerializer):
    """Body of POST /problems/{id}/major-incidents/."""

    major_incidents = serializers.ListField(child=MajorIncidentRefField(), min_length=1, max_length=1000)
    move = serializers.BooleanField(
        default=False, help_text="Move major incidents another open problem holds (else 409 naming it)."
    )
