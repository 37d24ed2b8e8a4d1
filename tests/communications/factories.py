"""Factories and helpers of the communications tests."""

import factory

from communications.models import NotificationRule, NotificationTemplate, Subscription, WebhookEndpoint
from communications.services import Subject

SECRET = "s3cret-s3cret-s3cret"


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/itsm")
    channel = "webhook"
    events = factory.LazyFunction(lambda: ["incident.*"])
    secret = SECRET
    description = factory.Sequence(lambda n: f"Receiver {n}")


class NotificationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    events = factory.LazyFunction(lambda: ["incident.created"])
    channel = "email"
    recipients = factory.LazyFunction(lambda: ["assignee"])

    @factory.post_generation
    def users(self, create, extracted, **kwargs):
        if create and extracted:
            self.users.add(*extracted)

    @factory.post_generation
    def endpoints(self, create, extracted, **kwargs):
        if create and extracted:
            self.endpoints.add(*extracted)

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.add(*extracted)

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*extracted)


class NotificationTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = NotificationTemplate

    event = "incident.created"
    channel = "email"
    subject = "Custom: {{ subject.number }}"
    body_text = "Custom body for {{ subject.title }}"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription


def make_subject(**overrides) -> Subject:
    """An incident-like subject; override any field."""
    fields = {
        "kind": "incident",
        "id": 1,
        "number": "INC0000001",
        "title": "Printer on fire",
        "url": "https://itsm.example.com/admin/incidents/incident/1/change/",
        "priority": 3,
    }
    fields.update(overrides)
    return Subject(**fields)


def incident_context(**fields) -> dict:
    """A context shaped like the incidents app's (see communications.samples)."""
    incident = {
        "number": "INC0000001",
        "title": "Printer on fire",
        "state": "new",
        "priority": 3,
        "service_name": "Printing",
        "assignment_group_name": "Team",
        "assignee_name": "",
    }
    incident.update(fields)
    return {"incident": incident}
