"""Helpers every major incident use case shares: lock the record, check the client's version,
require a policy decision, save with a version bump."""

from django.core.exceptions import PermissionDenied

from incidents.major.models import MajorIncident, MajorIncidentSettings
from incidents.policy import Decision
from itsm.exceptions import StaleRecord


def lock(mi_or_id: MajorIncident | int) -> MajorIncident:
    """The major incident, re-read and row-locked for the rest of the transaction."""
    pk = mi_or_id.pk if isinstance(mi_or_id, MajorIncident) else mi_or_id
    return MajorIncident.objects.select_for_update().get(pk=pk)


def check_version(mi: MajorIncident, expected_version: int | None) -> None:
    """412 (StaleRecord) when the client read another version than the stored one."""
    if expected_version is not None and expected_version != mi.version:
        raise StaleRecord(f"{mi.number} changed since you read it (version {mi.version}, you had {expected_version}).")


def require(decision: Decision) -> None:
    """403 with the decision's reason when it refuses."""
    if not decision:
        raise PermissionDenied(decision.reason)


def save(mi: MajorIncident, update_fields: list[str] | None = None) -> None:
    """Save with `version` bumped (the ETag changes with every change)."""
    mi.version += 1
    if update_fields is not None:
        update_fields = sorted({*update_fields, "version", "updated_at"})
    mi.save(update_fields=update_fields)


def default_cadence(incident, settings: MajorIncidentSettings | None = None) -> int:
    """The update cadence of a new major incident: the P1 cadence for a P1 primary, else the default."""
    settings = settings or MajorIncidentSettings.current()
    return settings.cadence_p1_minutes if incident.priority == 1 else settings.cadence_default_minutes
