from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("services", views.ServiceViewSet, basename="service")
router.register("categories", views.CategoryViewSet, basename="category")
router.register("groups", views.AssignmentGroupViewSet, basename="group")
router.register("priority-matrix", views.PriorityMatrixViewSet, basename="priority-matrix")
router.register("calendars", views.BusinessCalendarViewSet, basename="calendar")
router.register("sla-policies", views.SlaPolicyViewSet, basename="sla-policy")
router.register("users", views.UserViewSet, basename="user")

urlpatterns = router.urls
