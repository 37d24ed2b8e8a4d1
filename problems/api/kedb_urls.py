"""Routes of /api/v1/known-errors/ and /api/v1/incidents/{id}/known-errors/.

`itsm.urls` includes the incident routes before these; none of them matches
`incidents/<id>/known-errors/...`, so these paths reach the views below (a test pins it).
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from . import kedb
from .common import LOOKUP_REGEX

router = SimpleRouter(trailing_slash=True)
router.register("known-errors", kedb.KnownErrorViewSet, basename="known-error")

urlpatterns = [
    re_path(
        rf"^incidents/(?P<id>{LOOKUP_REGEX})/known-errors/$",
        kedb.IncidentKnownErrorsView.as_view(),
        name="incident-known-errors",
    ),
    re_path(
        rf"^incidents/(?P<id>{LOOKUP_REGEX})/known-errors/(?P<known_error_id>[0-9]+)/apply/$",
        kedb.ApplyWorkaroundView.as_view(),
        name="incident-known-error-apply",
    ),
    *router.urls,
]
