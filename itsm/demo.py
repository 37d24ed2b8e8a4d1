"""Demo data of the shared core: services, categories, groups, calendars, SLA policies, people.

Idempotent: running it again changes nothing that exists. Each practice adds its own records
in `<app>/demo.py` with a `seed(context)` function that `manage.py seed_demo` calls in order.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from itsm import roles
from itsm.models import AssignmentGroup, BusinessCalendar, Category, Service, SlaPolicy, WorkingPeriod

PEOPLE = [
    # username, first, last, role, groups
    ("agent", "Alice", "Agent", roles.SERVICE_DESK_AGENT, ["Service Desk"]),
    ("agent2", "Aaron", "Agent", roles.SERVICE_DESK_AGENT, ["Service Desk"]),
    ("resolver", "Rita", "Resolver", roles.RESOLVER, ["Network Team"]),
    ("resolver2", "Raj", "Resolver", roles.RESOLVER, ["Applications Team"]),
    ("mim", "Maya", "Manager", roles.MAJOR_INCIDENT_MANAGER, ["Service Desk"]),
    ("problem", "Paul", "Problem", roles.PROBLEM_MANAGER, ["Applications Team"]),
    ("itsmadmin", "Ada", "Admin", roles.ADMINISTRATOR, []),
    ("integration", "Monitoring", "Integration", roles.INTEGRATION, []),
    ("readonly", "Rob", "Reader", roles.READ_ONLY, []),
]
GROUPS = [
    ("Service Desk", "servicedesk@example.com", "Infrastructure"),
    ("Network Team", "network@example.com", "Infrastructure"),
    ("Applications Team", "apps@example.com", "Infrastructure"),
    ("Infrastructure", "infra@example.com", None),
]
SERVICES = [
    ("payroll", "Payroll", "Applications Team", "critical", "12000.00"),
    ("vpn", "VPN", "Network Team", "high", "4000.00"),
    ("email", "Email", "Infrastructure", "high", "6000.00"),
    ("crm", "CRM", "Applications Team", "medium", "2500.00"),
    ("website", "Public website", "Applications Team", "critical", "9000.00"),
]
CATEGORIES = {
    "Hardware": ["Laptop", "Printer"],
    "Software": ["Application", "Operating system"],
    "Network": ["VPN", "Wi-Fi"],
    "Access": ["Password reset", "Permissions"],
}
# priority -> (response minutes, resolution minutes, calendar)
TARGETS = {
    1: (15, 240, "24x7"),
    2: (30, 480, "24x7"),
    3: (120, 1440, "Business hours"),
    4: (480, 4320, "Business hours"),
    5: (1440, 7200, "Business hours"),
}


@dataclass
class DemoContext:
    """What the core seeded, handed to each practice's demo seeder."""

    users: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)
    services: dict = field(default_factory=dict)
    categories: dict = field(default_factory=dict)
    admin_password: str = ""
    user_password: str = ""


def _credentials() -> tuple[str, str]:
    """Random passwords made on the first seed and kept in var/ so later runs print the same."""
    path = Path(settings.VAR_DIR) / "demo-credentials.txt"
    if path.exists():
        admin_pw, user_pw = path.read_text().split()[:2]
        return admin_pw, user_pw
    admin_pw, user_pw = secrets.token_urlsafe(12), secrets.token_urlsafe(9)
    path.write_text(f"{admin_pw}\n{user_pw}\n")
    path.chmod(0o600)
    return admin_pw, user_pw


def seed() -> DemoContext:
    """Create the shared configuration and the demo people; return them for the practices."""
    User = get_user_model()
    ctx = DemoContext()
    ctx.admin_password, ctx.user_password = _credentials()

    admin = User.objects.filter(username="admin").first()
    if admin is None:
        admin = User.objects.create_superuser("admin", "admin@example.com", ctx.admin_password)
    ctx.users["admin"] = admin

    for name, email, _ in GROUPS:
        ctx.groups[name], _ = AssignmentGroup.objects.get_or_create(name=name, defaults={"email": email})
    for name, _, escalation in GROUPS:
        if escalation and ctx.groups[name].escalation_group_id is None:
            ctx.groups[name].escalation_group = ctx.groups[escalation]
            ctx.groups[name].save()

    for username, first, last, role, group_names in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(
                username,
                f"{username}@example.com",
                ctx.user_password,
                first_name=first,
                last_name=last,
                is_staff=role != roles.INTEGRATION,
            )
            user.groups.add(Group.objects.get(name=role))
            for group_name in group_names:
                ctx.groups[group_name].members.add(user)
        ctx.users[username] = user
    for group_name, manager in [
        ("Service Desk", "mim"),
        ("Network Team", "resolver"),
        ("Applications Team", "resolver2"),
        ("Infrastructure", "resolver"),
    ]:
        group = ctx.groups[group_name]
        if group.manager_id is None:
            group.manager = ctx.users[manager]
            group.save()

    for slug, name, owner, criticality, cost in SERVICES:
        ctx.services[slug], _ = Service.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "owner_group": ctx.groups[owner],
                "criticality": criticality,
                "downtime_cost_per_hour": cost,
            },
        )
    for parent_name, children in CATEGORIES.items():
        parent, _ = Category.objects.get_or_create(name=parent_name, parent=None)
        ctx.categories[parent_name] = parent
        for child in children:
            ctx.categories[f"{parent_name}/{child}"], _ = Category.objects.get_or_create(name=child, parent=parent)

    business, created = BusinessCalendar.objects.get_or_create(
        name="Business hours", defaults={"timezone": "Europe/Berlin", "description": "Mon-Fri 09:00-18:00"}
    )
    if created:
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=business, weekday=d, start_minute=9 * 60, end_minute=18 * 60) for d in range(5)
        )
    calendars = {"24x7": BusinessCalendar.objects.get(name="24x7"), "Business hours": business}
    for priority, (response, resolution, calendar_name) in TARGETS.items():
        for kind, minutes in (("response", response), ("resolution", resolution)):
            SlaPolicy.objects.get_or_create(
                name=f"P{priority} {kind}",
                defaults={
                    "kind": kind,
                    "priorities": [priority],
                    "target_minutes": minutes,
                    "calendar": calendars[calendar_name],
                },
            )
    return ctx
