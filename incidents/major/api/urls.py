"""Major incident routes under /api/v1/: the record's viewset, then its sub-resources.

Each sub-resource module (responders, updates, links, review) declares its own `urlpatterns`
under `major-incidents/<id>/...`, where `<id>` is an id or a number.
"""

from rest_framework.routers import SimpleRouter

from . import links, responders, review, updates, views

router = SimpleRouter(trailing_slash=True)
router.register("major-incidents", views.MajorIncidentViewSet, basename="major-incident")

urlpatterns = [*responders.urlpatterns, *updates.urlpatterns, *links.urlpatterns, *review.urlpatterns, *router.urls]
