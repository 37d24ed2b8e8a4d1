"""Console for the status app: page layout, subscribers (status.page.admin) and maintenance
windows (status.maintenance.admin)."""
