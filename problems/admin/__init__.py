"""The problem console (Django admin themed with Unfold), in rooms:

- `problem`: the problem admin (the list, the add page, the problem page);
- `page`: what the problem page shows below its form (article, links, tasks, timeline);
- `views`: the page's buttons (transitions, link / unlink), one view per use case;
- `forms`: the forms those read, each ending in a `problems` use case;
- `kedb`: the known error database search (read-only) and the "apply workaround" view;
- `incident_page`: the incident list's bulk actions and the incident page's panel, registered
  with `incidents.admin.extensions` (incidents import nothing of problems);
- `settings`: the practice's one settings row;
- `display`: colours and timeline sentences.

Django autodiscovers this package; importing the modules registers their admins.
"""

from . import incident_page
from .kedb import KnownErrorAdmin
from .problem import ProblemAdmin
from .settings import ProblemSettingsAdmin

incident_page.register()

__all__ = ["KnownErrorAdmin", "ProblemAdmin", "ProblemSettingsAdmin"]
