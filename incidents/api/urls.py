"""API routes of this app (registered under /api/v1/ by itsm.urls)."""

urlpatterns: list = []
