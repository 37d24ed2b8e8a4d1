"""Status app routes under /api/v1/: maintenance windows (filled by the maintenance work)."""

urlpatterns: list = []
