"""Demo incidents in every state, created through the services like an agent would."""

from communications.models import NotificationRule, Subscription, WebhookEndpoint
from incidents import services
from incidents.major import demo as major_demo
from incidents.models import Incident
from incidents.response import demo as response_demo

SCENARIOS = [
    # title, service, impact, urgency, path of transitions
    ("Payroll export to the bank fails", "payroll", 1, 1, []),
    ("VPN drops every 10 minutes in Berlin office", "vpn", 2, 1, ["start"]),
    ("Shared mailbox not syncing on mobile", "email", 3, 2, ["start", "hold"]),
    ("CRM search returns no results", "crm", 2, 2, ["start", "resolve"]),
    ("Website checkout returns 502", "website", 1, 2, ["start", "resolve", "close"]),
    ("Printer on floor 3 jams", None, 3, 3, ["cancel"]),
    ("Password reset emails arrive late", "email", 2, 3, []),
    ("Laptop will not boot after update", None, 3, 2, ["start"]),
]
PAYLOADS = {
    "start": {},
    "hold": {"hold_reason": "awaiting_caller"},
    "resolve": {"resolution_code": "fixed", "resolution_notes": "Root cause fixed and verified with the caller."},
    "close": {},
    "cancel": {"reason": "Logged twice by the caller."},
}


def seed(ctx) -> None:
    """Create the demo incidents once (skipped when any incident exists), after the
    notification set-up that shows the formats; then the demo major incidents (once)."""
    seed_notifications(ctx)
    if not Incident.objects.exists():
        seed_incidents(ctx)
    major_demo.seed(ctx)
    response_demo.seed(ctx)  # after the demo major incidents: they keep their own history


def seed_incidents(ctx) -> None:
    """One incident per scenario, walked through its transitions by a member of its group."""
    agent = ctx.users["agent"]
    for title, slug, impact, urgency, path in SCENARIOS:
        incident = services.open_incident(
            actor=agent,
            title=title,
            description=f"{title}. Reported by phone.",
            impact=impact,
            urgency=urgency,
            service=ctx.services.get(slug) if slug else None,
            channel="phone",
            caller_name="Dana Caller",
            caller_email="dana@example.com",
            assignment_group=None if slug else ctx.groups["Service Desk"],
        )
        # A member of the routed group works it, as on a real desk.
        actor = incident.assignment_group.members.order_by("id").first() or ctx.users["admin"]
        for name in path:
            incident = services.run_transition(incident, name, actor=actor, payload=PAYLOADS[name])
        if not path:
            services.add_comment(
                incident, actor=actor, body="Caller says it started this morning.", visibility="public"
            )


def seed_notifications(ctx) -> None:
    """Add demo subscriptions, a P1 rule and an (inactive) Slack endpoint to show the formats."""
    payroll = ctx.services.get("payroll")
    if payroll is not None:
        Subscription.objects.get_or_create(
            email="cfo@example.com", service=payroll, defaults={"events": ["major_incident.*"]}
        )
        if "readonly" in ctx.users:
            Subscription.objects.get_or_create(user=ctx.users["readonly"], service=payroll)
    rule, created = NotificationRule.objects.get_or_create(
        name="P1 incidents: tell the Infrastructure manager",
        defaults={
            "events": ["incident.created", "sla.breached"],
            "priorities": [1],
            "description": "Demo: a priority filter and a named person.",
        },
    )
    if created and "resolver" in ctx.users:
        rule.users.add(ctx.users["resolver"])
    WebhookEndpoint.objects.get_or_create(
        url="https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        defaults={
            "channel": "slack",
            "events": ["major_incident.*"],
            "description": "Example: #major-incidents in Slack (set the real URL, then activate)",
            "active": False,
        },
    )
