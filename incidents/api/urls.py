"""Incident routes under /api/v1/."""

from rest_framework.routers import SimpleRouter

from . import alert_urls, views

router = SimpleRouter(trailing_slash=True)
router.register("incidents", views.IncidentViewSet, basename="incident")

urlpatterns = router.urls
urlpatterns += alert_urls.urlpatterns
