"""Incident routes under /api/v1/ (the alert routes, `alert_urls`, are wired first by itsm.urls)."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("incidents", views.IncidentViewSet, basename="incident")

urlpatterns = router.urls
