"""Incident routes under /api/v1/."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("incidents", views.IncidentViewSet, basename="incident")

urlpatterns = router.urls
