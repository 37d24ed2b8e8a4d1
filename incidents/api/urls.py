"""Incident routes under /api/v1/ (the alert routes, `alert_urls`, are wired first by itsm.urls),
then the major incident routes (`incidents.major.api.urls`)."""

from rest_framework.routers import SimpleRouter

from incidents.major.api import urls as major_urls
from incidents.response.api import config_urls, task_urls

from . import views

router = SimpleRouter(trailing_slash=True)
router.register("incidents", views.IncidentViewSet, basename="incident")

urlpatterns = [*task_urls.urlpatterns, *config_urls.urlpatterns, *router.urls, *major_urls.urlpatterns]
