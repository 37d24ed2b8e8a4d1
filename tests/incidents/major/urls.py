"""The project's URLs plus the responder and update endpoints, for tests until the integrator
wires `incidents.major.api.urls` into /api/v1/ (then the real URLconf serves the same views).

Until the major incident record's own routes exist, a stand-in `major-incident-detail` gives
notifications their record link (`incidents.major.notify.major_incident_url`).
"""

from django.http import HttpResponseNotFound
from django.urls import NoReverseMatch, include, path, reverse

from incidents.major.api import responders, updates
from itsm.urls import handler404, handler500
from itsm.urls import urlpatterns as project

__all__ = ["handler404", "handler500", "urlpatterns"]

sub_resources = [*responders.urlpatterns, *updates.urlpatterns]
try:
    reverse("major-incident-detail", urlconf="itsm.urls", args=[1])
except NoReverseMatch:
    sub_resources.append(
        path("major-incidents/<str:pk>/", lambda request, pk: HttpResponseNotFound(), name="major-incident-detail")
    )

urlpatterns = [path("api/v1/", include(sub_resources)), *project]
