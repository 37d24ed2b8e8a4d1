"""The product's URLconf, then the ceiling's endpoint (tried after every product route)."""

from django.urls import path

from bench.ceiling.views import Notes
from itsm.urls import handler404, handler500
from itsm.urls import urlpatterns as product_urlpatterns

__all__ = ["CEILING_PATH", "handler404", "handler500", "urlpatterns"]

CEILING_PATH = "api/v1/bench-ceiling/notes/"

urlpatterns = [*product_urlpatterns, path(CEILING_PATH, Notes.as_view(), name="bench-ceiling-notes")]
