"""Routes of /api/v1/problems/ (filled in by the problems API work)."""

urlpatterns: list = []
