"""The major incident console (Django admin themed with Unfold), in rooms:

- `record`: the major incident admin (the list, the workbench as its change page) and the
  read-only log of stakeholder updates;
- `workbench`: what the workbench shows, read in a constant number of queries;
- `views`: the workbench's buttons, one view per use case, each calling the API's service;
- `forms`: the forms those views read (and the incident page's propose / link forms);
- `settings`: the practice's one settings row;
- `display`: colours, durations, money, timeline sentences.

`incidents.admin` imports this package, which registers the admins; the incident-side buttons
(propose, declare, link to a major incident) live with the incident admin.
"""

from .record import MajorIncidentAdmin, StakeholderUpdateAdmin
from .settings import MajorIncidentSettingsAdmin

__all__ = ["MajorIncidentAdmin", "MajorIncidentSettingsAdmin", "StakeholderUpdateAdmin"]
