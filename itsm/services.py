"""Use cases of the shared core, called by both the admin and the API."""

from django.db import models

from itsm import events


def record_config_change(instance: models.Model, created: bool, actor=None) -> None:
    """Publish `<model>.created` / `<model>.updated` so integrations and caches can react.

    The simple-history row records who changed what; this event is the hook for reactions
    (for example a webhook to a CMDB), dispatched after commit through the outbox.
    """
    name = f"{instance._meta.model_name}.{'created' if created else 'updated'}"
    events.publish(
        name,
        {"model": instance._meta.label_lower, "id": instance.pk, "actor": getattr(actor, "pk", None)},
    )
