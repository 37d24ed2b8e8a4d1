"""URLs for the timeline inline tests: two minimal admin sites showing incidents with the inline.

The incident console has its own timeline panel, so the shared inline is shown here on a
minimal incident admin instead: once with compact data, once with the incident narration.
"""

from django.urls import path
from unfold.admin import ModelAdmin
from unfold.sites import UnfoldAdminSite

from incidents.models import Incident, TimelineEvent
from incidents.narration import TimelineNarrator
from itsm.admin_timeline import TimelineInline
from itsm.urls import urlpatterns as product_urlpatterns

PER_PAGE = 5


class IncidentTimelineInline(TimelineInline):
    """The incident timeline, compact data."""

    model = TimelineEvent
    per_page = PER_PAGE


class NarratedIncidentTimelineInline(IncidentTimelineInline):
    """The incident timeline, told by the incident narration."""

    narrator_class = TimelineNarrator


class CompactIncidentAdmin(ModelAdmin):
    """A minimal incident page: the title and the compact timeline."""

    fields = ("title",)
    inlines = [IncidentTimelineInline]


class NarratedIncidentAdmin(CompactIncidentAdmin):
    """A minimal incident page: the title and the narrated timeline."""

    inlines = [NarratedIncidentTimelineInline]


compact_site = UnfoldAdminSite(name="timeline_compact")
compact_site.register(Incident, CompactIncidentAdmin)
narrated_site = UnfoldAdminSite(name="timeline_narrated")
narrated_site.register(Incident, NarratedIncidentAdmin)

urlpatterns = [
    path("timeline-compact/", compact_site.urls),
    path("timeline-narrated/", narrated_site.urls),
    *product_urlpatterns,
]
