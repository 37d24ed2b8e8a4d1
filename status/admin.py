"""Console for the status app: page layout, subscribers (status.page.admin) and maintenance
windows (status.maintenance.admin)."""

from status.maintenance import admin as maintenance_admin  # noqa: F401  (registers MaintenanceWindowAdmin)
from status.page import admin as page_admin  # noqa: F401  (registers the page's admins)
