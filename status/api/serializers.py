"""Maintenance window representations and bodies (API.md conventions: strict input, UTC times)."""

from rest_framework import serializers

from itsm.api.serializers import StrictSerializer
from status.choices import MaintenanceState
from status.models import MaintenanceWindow

FIELDS = [
    "id",
    "title",
    "description",
    "services",
    "starts_at",
    "ends_at",
    "pause_sla",
    "state",
    "announced_at",
    "started_at",
    "completed_at",
    "cancelled_at",
]
READ_ONLY = frozenset(FIELDS) - {"title", "description", "services", "starts_at", "ends_at", "pause_sla"}


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    """A maintenance window; `state` changes through the sweep and `transitions/cancel/` only."""

    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True, help_text="Service slugs.")
    state = serializers.ChoiceField(choices=MaintenanceState.choices, read_only=True)

    class Meta:
        model = MaintenanceWindow
        fields = FIELDS
        read_only_fields = FIELDS


def _slugs(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.SlugField(max_length=64), help_text="Slugs of the services under maintenance.", **kwargs
    )


class MaintenanceWindowCreateSerializer(StrictSerializer):
    """Body of POST /maintenance-windows/ (announce)."""

    read_only_names = READ_ONLY

    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=100_000, help_text="Public text: what changes, what users notice.")
    services = _slugs()
    starts_at = serializers.DateTimeField(help_text="At most 5 minutes in the past; a start that has come starts now.")
    ends_at = serializers.DateTimeField(help_text="After starts_at, in the future.")
    pause_sla = serializers.BooleanField(
        default=False, help_text="Count the window as paused time on SLA clocks of incidents on these services."
    )


class MaintenanceWindowUpdateSerializer(StrictSerializer):
    """Body of PATCH /maintenance-windows/{id}/ (scheduled or in progress; a running window keeps its start)."""

    read_only_names = READ_ONLY

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=100_000, required=False)
    services = _slugs(required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    pause_sla = serializers.BooleanField(required=False)


class CancelSerializer(StrictSerializer):
    """Body of POST /maintenance-windows/{id}/transitions/cancel/."""

    reason = serializers.CharField(
        max_length=2000, allow_blank=True, required=False, help_text="Told to subscribers with the cancellation."
    )
