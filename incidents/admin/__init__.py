"""The agents' console for incidents (Django admin themed with Unfold), in rooms:

- `changelist`: the incident change list and the list filters;
- `forms`: add, change, transition, comment and bulk forms, each ending in a service call;
- `incident`: the incident admin (list, add and change pages);
- `actions`: its own views and actions (comment, transitions, bulk), each with an API twin;
- `clocks`: SLA clocks, read-only;
- `settings`: the practice's one settings row;
- `display`: badges, colours, durations and other display helpers.

Major incidents have their own console package, `incidents.major.admin` (the list, the workbench,
the settings), registered from here; the incident page's propose / declare / link buttons are in
`actions`. Timeline sentences are `incidents.narration`; the large-table paginator is `itsm.admin_large`.
Django autodiscovers this package; importing the modules registers their admins.
"""

from incidents.alerts import admin as alerts_admin  # the intake pages (alert routes, alerts, inbound mail)
from incidents.major import admin as major_admin  # the major incident list, workbench and settings
from incidents.response import admin as response_admin  # tasks ("My tasks"), response plans, trigger rules

from .clocks import SlaClockAdmin
from .incident import IncidentAdmin
from .settings import IncidentSettingsAdmin

__all__ = ["IncidentAdmin", "IncidentSettingsAdmin", "SlaClockAdmin", "alerts_admin", "major_admin", "response_admin"]
