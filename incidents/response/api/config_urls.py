"""Response plan and trigger rule routes under /api/v1/ (administrators write, MIMs read)."""

from rest_framework.routers import SimpleRouter

from .plans import ResponsePlanViewSet
from .triggers import TriggerRuleViewSet

router = SimpleRouter(trailing_slash=True)
router.register("response-plans", ResponsePlanViewSet, basename="response-plan")
router.register("trigger-rules", TriggerRuleViewSet, basename="trigger-rule")

urlpatterns = router.urls
