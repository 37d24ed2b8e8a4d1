"""Sample records for template previews and template validation.

The practice that registers an event type registers its samples too
(`registry.register_samples`); they document the context shape its templates read. This module
knows only communications' own events (the digest and the webhook test) and a generic fallback
for an event nobody registered a sample for.
"""

from . import registry
from .subject import Subject

BASE_URL = "https://itsm.example.com/admin"


def _generic(event: str) -> tuple[Subject, dict]:
    return Subject("record", 1, "REC0000001", "Example record", f"{BASE_URL}/record/1/", priority=3), {}


def _digest() -> tuple[Subject, dict]:
    items = [
        {
            "event": "example.updated",
            "event_label": "Example updated",
            "number": f"REC00001{n:02d}",
            "title": f"Disk full on db-{n}",
            "message_subject": f"[REC00001{n:02d}] Example updated: Disk full on db-{n}",
            "url": f"{BASE_URL}/record/{100 + n}/",
            "occurred_at": "2026-11-22T10:00:00Z",
        }
        for n in range(3)
    ]
    subject = Subject("digest", 1, f"{len(items)} notifications", "Digest", BASE_URL)
    return subject, {"items": items, "count": len(items), "window_minutes": 5}


def sample(event: str) -> tuple[Subject, dict]:
    """A plausible subject and context for `event` (any type, registered or internal)."""
    if event == registry.DIGEST:
        return _digest()
    if event == registry.WEBHOOK_TEST:
        subject = Subject("webhook", 1, "WH1", "Test event", f"{BASE_URL}/webhooks/1/")
        return subject, {"endpoint": {"id": 1, "description": "Example"}, "message": "Test event"}
    factory = registry.sample_factory(event)
    return factory(event) if factory is not None else _generic(event)
