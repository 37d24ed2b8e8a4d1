"""API routes of this app (registered under /api/v1/ by itsm.urls): problems, and the known
error database (with the incident's suggestions, `/api/v1/incidents/{id}/known-errors/`)."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("problems.api.problem_urls")),
    path("", include("problems.api.kedb_urls")),
    path("", include("problems.api.task_urls")),
]
