"""Routes of /api/v1/known-errors/ and /api/v1/incidents/{id}/known-errors/ (filled in by the KEDB API work)."""

urlpatterns: list = []
