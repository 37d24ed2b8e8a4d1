"""What a practice registers: event types, default rules, templates, samples, role permissions."""

import pathlib

import pytest

from communications import defaults, registry, rendering
from communications.models import InstalledDefaultRule, NotificationRule
from communications.subject import Subject
from itsm import roles

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def practice(monkeypatch, tmp_path, settings):
    """A throw-away practice `tickets` registered the way a real one is."""
    for name in ("_event_types", "_subject_kinds", "_default_rules", "_templates", "_samples"):
        value = getattr(registry, name)
        monkeypatch.setattr(registry, name, type(value)(value))
    folder = tmp_path / "tickets" / "notifications" / "ticket.opened"
    folder.mkdir(parents=True)
    (folder / "email_subject.txt").write_text("Ticket {{ ticket.number }} opened")
    (folder / "email_body.txt").write_text("{{ ticket.title }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}]

    def sample(event):
        return Subject("ticket", 5, "TCK5", "Sample ticket", "https://x.example/t/5/"), {
            "ticket": {"number": "TCK5", "title": "The sample ticket"}
        }

    registry.register_event_types("ticket.opened", labels={"ticket.opened": "Ticket opened"}, subject_kind="ticket")
    registry.register_templates("tickets/notifications", "ticket.*")
    registry.register_samples(sample, "ticket.*")
    registry.register_default_rules({"Tickets: tell the group": {"events": ["ticket.*"], "recipients": ["group"]}})


def test_a_registered_practice_is_known_everywhere(practice):
    assert registry.is_registered("ticket.opened") and registry.label("ticket.opened") == "Ticket opened"
    assert "ticket" in registry.subject_kinds() and "ticket.*" in registry.pattern_choices()
    message = rendering.preview("ticket.opened", "email")
    assert message.subject == "Ticket TCK5 opened" and message.text == "The sample ticket\n"
    # Slack has no template of its own: communications' generic default renders the sample.
    assert "TCK5" in rendering.preview("ticket.opened", "slack").text


@pytest.mark.django_db
def test_default_rules_are_installed_once_and_a_deleted_one_stays_deleted(practice):
    assert defaults.install_default_rules() == ["Tickets: tell the group"]
    rule = NotificationRule.objects.get(name="Tickets: tell the group")
    assert rule.channel == "email" and rule.events == ["ticket.*"]
    rule.full_clean()
    rule.delete()
    assert defaults.install_default_rules() == []
    assert not NotificationRule.objects.filter(name="Tickets: tell the group").exists()
    assert InstalledDefaultRule.objects.filter(name="Tickets: tell the group").exists()


@pytest.mark.django_db
def test_post_migrate_installs_defaults_but_a_flush_does_not(practice):
    from django.apps import apps

    config = apps.get_app_config("communications")
    defaults.installed_after_migrate(sender=config, app_config=config, plan=None)  # flush
    assert not NotificationRule.objects.filter(name="Tickets: tell the group").exists()
    defaults.installed_after_migrate(sender=config, app_config=config, plan=[])  # migrate
    assert NotificationRule.objects.filter(name="Tickets: tell the group").exists()


def test_registrations_refuse_what_they_cannot_use(practice):
    with pytest.raises(ValueError):
        registry.register_default_rules({"Bad": {"events": ["nothing.registered"]}})
    with pytest.raises(ValueError):
        registry.register_templates("x")
    with pytest.raises(ValueError):
        registry.register_event_types("no-dot")


def test_role_permissions_are_registered_by_the_owning_app(monkeypatch):
    monkeypatch.setattr(roles, "ROLE_MODEL_PERMISSIONS", {k: dict(v) for k, v in roles.ROLE_MODEL_PERMISSIONS.items()})
    roles.register_permissions(roles.RESOLVER, {"tickets.ticket": ["change", "view"]})
    roles.register_permissions(roles.RESOLVER, {"tickets.ticket": ["view", "add"]})
    assert roles.ROLE_MODEL_PERMISSIONS[roles.RESOLVER]["tickets.ticket"] == ["view", "add", "change"]
    assert "tickets" in roles.app_labels()
    with pytest.raises(ValueError):
        roles.register_permissions("Nobody", {"tickets.ticket": ["view"]})
    with pytest.raises(ValueError):
        roles.register_permissions(roles.RESOLVER, {"tickets.ticket": ["approve"]})


def test_the_incident_practice_declares_its_own_permissions():
    assert roles.ROLE_MODEL_PERMISSIONS[roles.ADMINISTRATOR]["incidents.incidentsettings"] == ["view", "change"]
    assert roles.ROLE_MODEL_PERMISSIONS[roles.READ_ONLY]["incidents.incident"] == ["view"]
    assert "incidents." not in (ROOT / "itsm" / "roles.py").read_text()


def test_communications_knows_nothing_of_the_practices():
    words = ("incident", "sla.", "major", "problem")
    for path in [*(ROOT / "communications").rglob("*.py"), *(ROOT / "templates" / "communications").rglob("*")]:
        if "migrations" in path.parts or not path.is_file():
            continue  # historical content
        text = path.read_text().lower()
        assert not [w for w in words if w in text], path
