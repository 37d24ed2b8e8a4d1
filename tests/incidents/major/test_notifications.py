"""Major incident notifications: shipped templates per event and channel, what internal and public
messages show, the samples, and the default rules."""

from pathlib import Path

import pytest
from django.template.loader import get_template

from communications import registry, rendering
from communications.models import NotificationRule
from communications.services import emit
from incidents import registrations
from itsm import roles

pytestmark = pytest.mark.django_db

EVENTS = sorted(registrations.MAJOR_INCIDENT_EVENT_TYPES)
DIRECTORY = Path(registrations.__file__).parent / "templates" / registrations.TEMPLATES
FILES = ["email_subject.txt", "email_body.txt", "email_body.html", "slack_body.txt", "teams_body.txt"]


@pytest.mark.parametrize("event", EVENTS)
def test_every_major_incident_event_ships_its_own_messages(event):
    for name in FILES:
        assert (DIRECTORY / event / name).is_file(), f"{event}/{name} is missing"
        get_template(f"{registrations.TEMPLATES}/{event}/{name}")  # compiles


@pytest.mark.parametrize("public", [True, False])
@pytest.mark.parametrize("channel", ["email", "slack", "teams"])
@pytest.mark.parametrize("event", EVENTS)
def test_every_template_renders_its_sample_for_either_audience(event, channel, public, caplog):
    subject, data = registry.sample_factory(event)(event)
    context = rendering.template_context(event, subject, data, actor={"id": 1, "name": "Maya Manager"}, public=public)
    message = rendering.render(event, channel, context)
    assert "MIM0000007" in message.subject + message.text
    assert message.text.strip() and "\n" not in message.subject
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    if channel == "email":
        assert message.html.startswith("<!doctype html>")


def _render(event, channel="email", *, public, **extra):
    subject, data = registry.sample_factory(event)(event)
    data.update(extra)
    return rendering.render(event, channel, rendering.template_context(event, subject, data, public=public))


@pytest.mark.parametrize("event", ["major_incident.declared", "major_incident.update_posted"])
def test_public_messages_hide_the_bridge_and_staff_names(event):
    internal = _render(event, public=False)
    public = _render(event, public=True)
    for secret in ("meet.example.com/payroll-bridge", "#inc-payroll", "Maya Manager"):
        assert secret in internal.text + internal.html
        assert secret not in public.text and secret not in public.html


def test_the_page_shows_what_the_responder_needs_and_chat_never_carries_the_link():
    email = _render("major_incident.paged", public=False)
    assert "PAGE 2 of 3" in email.subject and "as network" in email.subject
    for needed in ("meet.example.com/payroll-bridge", "#inc-payroll", "/major-incidents/acknowledge/x/"):
        assert needed in email.text and needed in email.html
    for channel in ("slack", "teams"):
        chat = _render("major_incident.paged", channel, public=False)
        assert "Nora Network" in chat.text and "meet.example.com/payroll-bridge" in chat.text
        assert "acknowledge" not in chat.text


def test_a_first_page_does_not_say_it_is_a_repeat():
    subject, data = registry.sample_factory("major_incident.paged")("major_incident.paged")
    data["responder"]["page_count"] = 1
    context = rendering.template_context("major_incident.paged", subject, data, public=False)
    message = rendering.render("major_incident.paged", "email", context)
    assert "PAGE:" in message.subject and "nobody has seen" not in message.text


def test_the_samples_are_an_active_mim_numbered_record():
    subject, data = registrations.major_incident_sample("major_incident.declared")
    assert subject.number == data["major_incident"]["number"] == "MIM0000007"
    assert data["major_incident"]["state"] == "active"
    assert subject.kind == "major_incident"


def test_every_registered_event_previews(caplog):
    for event in registry.event_types():
        for channel in ("email", "slack", "teams"):
            assert rendering.preview(event, channel).subject
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# --- default rules ---------------------------------------------------------------------------------
def _rules_for(event):
    return [r for r in NotificationRule.objects.filter(active=True) if registry.matches(r.events, event)]


def test_announcements_go_to_stakeholders_and_watchers_by_default():
    for event in ("declared", "update_posted", "resolved", "closed"):
        rules = _rules_for(f"major_incident.{event}")
        assert any({"stakeholders", "watchers"} <= set(r.recipients) for r in rules), event


@pytest.mark.parametrize("event", ["paged", "rejected", "action_item_overdue"])
def test_explicit_events_have_no_default_rule(event):
    assert _rules_for(f"major_incident.{event}") == []


def test_the_fallback_rule_only_fires_when_nobody_is_named(make_user):
    mim = make_user(roles.MAJOR_INCIDENT_MANAGER)
    rule = NotificationRule.objects.get(name__startswith="Major incident with no one named")
    rule.full_clean()
    subject, data = registrations.major_incident_sample("major_incident.update_overdue")
    assert emit("major_incident.update_overdue", subject, {**data, "nobody_named": False}, public=False) == []
    rows = emit("major_incident.update_overdue", subject, {**data, "nobody_named": True}, public=False)
    assert [r.recipient for r in rows] == [mim.email]
