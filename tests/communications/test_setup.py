"""What the migrations load: the default rules and the role permissions."""

import pytest
from django.contrib.auth.models import Group

from communications import registry
from communications.models import NotificationRule
from itsm import roles

pytestmark = pytest.mark.django_db


def perms(role: str) -> set[str]:
    return set(
        Group.objects.get(name=role)
        .permissions.filter(content_type__app_label="communications")
        .values_list("codename", flat=True)
    )


def test_default_rules_are_loaded_and_valid():
    rules = {r.name: r for r in NotificationRule.objects.all()}
    assert set(registry.default_rules()) <= set(rules)
    for rule in rules.values():
        rule.full_clean()
    events = {e for r in rules.values() for e in r.events}
    assert {
        "incident.created",
        "incident.assigned",
        "incident.state_changed",
        "incident.commented",
        "sla.warning",
        "sla.breached",
        "major_incident.proposed",
        "major_incident.declared",
    } <= events


def test_administrators_configure_and_retry_others_view():
    admin = perms(roles.ADMINISTRATOR)
    for model in ("notificationrule", "notificationtemplate", "webhookendpoint", "subscription"):
        assert {f"view_{model}", f"add_{model}", f"change_{model}", f"delete_{model}"} <= admin
    assert {"view_notification", "change_notification"} <= admin and "delete_notification" not in admin
    assert {"add_webhookendpoint", "view_notification"} <= perms(roles.INTEGRATION)
    for role in (roles.READ_ONLY, roles.SERVICE_DESK_AGENT, roles.RESOLVER):
        granted = perms(role)
        assert "view_notification" in granted and "view_notificationrule" in granted
        assert not any(p.startswith(("add_", "change_", "delete_")) for p in granted)


def test_the_mapping_is_part_of_itsm_roles():
    assert roles.ROLE_MODEL_PERMISSIONS[roles.ADMINISTRATOR]["communications.notification"] == ["view", "change"]


def test_demo_seed_is_idempotent(settings, tmp_path):
    from communications.models import Subscription, WebhookEndpoint
    from incidents import demo as incidents_demo
    from itsm import demo

    settings.VAR_DIR = tmp_path
    ctx = demo.seed()
    incidents_demo.seed_notifications(ctx)
    incidents_demo.seed_notifications(ctx)
    assert Subscription.objects.filter(service__slug="payroll").count() == 2
    assert WebhookEndpoint.objects.filter(channel="slack", active=False).count() == 1
    assert NotificationRule.objects.get(name__startswith="P1 incidents").users.count() == 1
