"""Task routes under /api/v1/: incidents/{id}/tasks/ and major-incidents/{id}/tasks/ (filled by the tasks work)."""

urlpatterns: list = []
