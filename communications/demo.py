"""Demo data of communications: a stakeholder list, subscriptions and an example chat endpoint.

Idempotent; called by `manage.py seed_demo` with the core's context (users, groups, services).
"""

from .models import NotificationRule, Subscription, WebhookEndpoint


def seed(ctx) -> None:
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
