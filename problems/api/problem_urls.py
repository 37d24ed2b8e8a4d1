"""Routes of /api/v1/problems/: the record's viewset, then its links sub-resources.

`<id>` is an id or a number (`PRB0000012`).
"""

from rest_framework.routers import SimpleRouter

from . import links, views

router = SimpleRouter(trailing_slash=True)
router.register("problems", views.ProblemViewSet, basename="problem")

urlpatterns = [*links.urlpatterns, *router.urls]
