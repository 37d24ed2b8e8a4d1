"""Demo layout of the status page: two groups and public names for the demo services.

`make run` then shows the active payroll major incident (its external update, never the
internal one) under "Business applications", with the other services operational.
"""

from __future__ import annotations

from status.maintenance import demo as maintenance_demo
from status.models import StatusPageEntry, StatusPageGroup

GROUPS = [
    ("Business applications", "Applications our employees and customers use every day.", 10),
    ("Communication and access", "Email and remote access.", 20),
]
ENTRIES = {
    # slug: (group, position, public name, public description)
    "website": ("Business applications", 10, "Public website", "www and the customer portal."),
    "payroll": ("Business applications", 20, "Payroll", "Payroll runs, payslips and approvals."),
    "crm": ("Business applications", 30, "Customer relationship management", "Accounts, contacts and quotes."),
    "email": ("Communication and access", 10, "Email", "Sending and receiving email."),
    "vpn": ("Communication and access", 20, "Remote access (VPN)", "Working from home and on the road."),
}


def seed(ctx) -> None:
    """Create the groups and entries once each (idempotent), then the demo maintenance window."""
    groups = {}
    for name, description, position in GROUPS:
        groups[name], _ = StatusPageGroup.objects.get_or_create(
            name=name, defaults={"description": description, "position": position}
        )
    for slug, (group, position, public_name, description) in ENTRIES.items():
        service = ctx.services.get(slug)
        if service is None:
            continue
        StatusPageEntry.objects.get_or_create(
            service=service,
            defaults={
                "group": groups[group],
                "position": position,
                "public_name": public_name,
                "public_description": description,
            },
        )
    maintenance_demo.seed(ctx)
