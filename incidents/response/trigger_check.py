"""The trigger-rule hook of the incident use cases: queue an evaluation, cheaply.

`request_check` runs inside the use case's transaction (create on every channel, a priority or
service change). Whether any rule is active is kept per process (`itsm.procache`, bumped after
commit by any change of a rule), so with rules off, the default, an incident costs no query
here; with a rule on, one domain event row `incident.trigger_check` {incident, event}, evaluated
after commit by `incidents.response.triggers.handle`. This module imports no use case, so the
use cases may import it (the evaluator imports them).
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from incidents.models import Incident
from incidents.response.models import TriggerRule
from itsm import events as domain_events
from itsm.procache import VersionedCache

EVENT_NAME = "incident.trigger_check"
ACTIVE = VersionedCache("trigger-rules-active", max_age=300.0)


def any_active_rule() -> bool:
    """Is some trigger rule on? (per process, reloaded after any rule changes)."""
    return ACTIVE.get("any", lambda: TriggerRule.objects.filter(active=True).exists())


def request_check(incident: Incident, event: str) -> None:
    """Queue the evaluation of `incident` after commit when some rule is active."""
    if any_active_rule():
        domain_events.publish(EVENT_NAME, {"incident": incident.pk, "event": event})


def _changed(**kwargs) -> None:
    ACTIVE.clear()
    ACTIVE.changed()


def connect() -> None:
    """Forget the flag whenever a rule is written or deleted (call from AppConfig.ready)."""
    post_save.connect(_changed, sender=TriggerRule, dispatch_uid="trigger-rules-active-save")
    post_delete.connect(_changed, sender=TriggerRule, dispatch_uid="trigger-rules-active-delete")
