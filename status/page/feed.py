"""The Atom feed of the status page: one entry per external update of a public major incident
(the latest `LIMIT`), plus the announced maintenance windows.

Entry ids are tag URIs built from the site's host and the update's (or window's) id, so they
never change when the text or the times do (RFC 4151: `tag:<host>,<date>:<specific>`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from communications import conf
from incidents.major.choices import Audience
from incidents.major.models import StakeholderUpdate
from status.choices import MaintenanceState
from status.models import MaintenanceWindow
from status.page.build import DECLARED_STATES, STATUS_LABELS

LIMIT = 50
MAINTENANCE_LIMIT = 20
TAG_DATE = "2026"  # the date part of every tag URI: fixed, so ids never change


def tag(kind: str, pk: int) -> str:
    """A stable entry id: `tag:<site host>,2026:status/<kind>/<id>`."""
    host = urlsplit(conf.site_url()).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:status/{kind}/{pk}"


def render() -> tuple[bytes, datetime | None]:
    """The feed document (UTF-8 bytes) and the next moment it changes by itself (none)."""
    page = conf.site_url() + reverse("status:page")
    updates = list(
        StakeholderUpdate.objects.filter(
            audience=Audience.EXTERNAL, major_incident__public=True, major_incident__state__in=DECLARED_STATES
        )
        .select_related("major_incident")
        .only("id", "status", "body", "posted_at", "major_incident__number", "major_incident__title")
        .order_by("-posted_at", "-id")[:LIMIT]
    )
    windows = list(
        MaintenanceWindow.objects.exclude(state=MaintenanceState.CANCELLED).order_by("-starts_at", "-id")[
            :MAINTENANCE_LIMIT
        ]
    )
    entries = []
    for update in updates:
        mi = update.major_incident
        status = STATUS_LABELS.get(update.status, update.status)
        entries.append(
            {
                "title": f"{mi.title} ({mi.number}): {status}",
                "link": f"{page}#{mi.number}",
                "description": update.body,
                "unique_id": tag("update", update.pk),
                "unique_id_is_permalink": False,
                "pubdate": update.posted_at,
                "updateddate": update.posted_at,
                "categories": [update.status],
            }
        )
    for window in windows:
        when = f"{window.starts_at:%Y-%m-%d %H:%M} to {window.ends_at:%Y-%m-%d %H:%M} UTC"
        entries.append(
            {
                "title": f"Scheduled maintenance: {window.title} ({when})",
                "link": f"{page}#maintenance-{window.pk}",
                "description": window.description,
                "unique_id": tag("maintenance", window.pk),
                "unique_id_is_permalink": False,
                "pubdate": window.announced_at or window.created_at,
                "updateddate": window.updated_at,
                "categories": ["maintenance"],
            }
        )
    entries.sort(key=lambda e: e["updateddate"], reverse=True)
    feed = Atom1Feed(
        title="Service status",
        link=page,
        description="Updates on incidents and scheduled maintenance.",
        feed_url=conf.site_url() + reverse("status:feed"),
        feed_guid=tag("feed", 1),
        language="en",
        author_name="Service status",  # Atom needs an author: the page, never a person
    )
    for entry in entries:
        feed.add_item(**entry)
    return feed.writeString("utf-8").encode("utf-8"), None
