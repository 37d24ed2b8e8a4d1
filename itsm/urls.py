"""Composition root: admin, API v1 (each practice's routes), schema, docs, health."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from itsm import health

handler404 = "itsm.api.errors.api_404"
handler500 = "itsm.api.errors.api_500"

api_v1 = [
    # First: monitoring posts alerts thousands of times a minute; each pattern tried before a
    # match costs every one of those requests.
    path("", include("incidents.api.alert_urls")),
    path("", include("itsm.api.urls")),
    path("", include("communications.api.urls")),
    path("", include("incidents.api.urls")),
    path("", include("problems.api.urls")),
    path("", include("status.api.urls")),
    path("", include("reporting.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # The console's report pages, behind the admin's login; ahead of the admin's catch-all.
    path("admin/reports/", include("reporting.console.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("communications.urls")),  # /unsubscribe/<token>/ (no login: signed token)
    path("", include("incidents.major.urls")),  # /major-incidents/acknowledge/<token>/ (idem)
    path("status/", include("status.urls")),  # the public status page (no login)
]
