"""Response plan and trigger rule routes under /api/v1/ (filled by the plans and triggers work)."""

urlpatterns: list = []
