"""Status app routes under /api/v1/: maintenance windows."""

from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("maintenance-windows", views.MaintenanceWindowViewSet, basename="maintenance-window")

urlpatterns = router.urls
