"""API routes of this app (registered under /api/v1/ by itsm.urls)."""

from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhooks", views.WebhookEndpointViewSet, basename="webhook")
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("notification-rules", views.NotificationRuleViewSet, basename="notification-rule")
router.register("notification-templates", views.NotificationTemplateViewSet, basename="notification-template")
router.register("event-types", views.EventTypeViewSet, basename="event-type")

urlpatterns = router.urls
