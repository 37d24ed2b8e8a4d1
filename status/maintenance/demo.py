"""Demo data of maintenance: one window scheduled next week on one demo service.

`status.demo.seed(ctx)` (the status page's demo, another room's file) calls `seed(ctx)`.
Idempotent: a second seed finds the window by its title and adds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from status.models import MaintenanceWindow

from . import services

TITLE = "Email platform upgrade"


def seed(ctx) -> MaintenanceWindow | None:
    """Announce the demo window (as the demo administrator) unless it exists; returns it."""
    existing = MaintenanceWindow.objects.filter(title=TITLE).first()
    if existing is not None:
        return existing
    service = ctx.services.get("email") or next(iter(ctx.services.values()), None)
    admin = ctx.users.get("admin")
    if service is None or admin is None:
        return None
    start = (timezone.now() + timedelta(days=7)).replace(hour=20, minute=0, second=0, microsecond=0)
    return services.announce(
        actor=admin,
        title=TITLE,
        description="Mail servers move to new hardware; sending and receiving may pause for a few minutes.",
        services=[service],
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        pause_sla=False,
    )
