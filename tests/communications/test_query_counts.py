"""Query counts stay flat as data grows (eager loading declared next to the views)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from communications.services import emit
from tests.communications.factories import NotificationRuleFactory, WebhookEndpointFactory, make_subject

pytestmark = pytest.mark.django_db


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_emit_costs_the_same_for_3_or_30_recipients(make_user, group, no_default_rules):
    NotificationRuleFactory(events=["incident.created"], recipients=["group_members", "group_manager"])
    WebhookEndpointFactory(events=["incident.*"])
    group.members.add(*[make_user() for _ in range(3)])
    small = count_queries(lambda: emit("incident.created", make_subject(id=1, group_id=group.pk), {}))
    group.members.add(*[make_user() for _ in range(27)])
    large = count_queries(lambda: emit("incident.created", make_subject(id=2, group_id=group.pk), {}))
    assert small == large <= 18  # rules + 4 prefetches, people, endpoints, subscriptions, storm, insert


@pytest.mark.parametrize("path", ["/api/v1/notifications/", "/api/v1/webhooks/", "/api/v1/notification-rules/"])
def test_lists_cost_the_same_for_few_or_many_rows(api, administrator, make_user, path):
    user = make_user()
    client = api.as_user(administrator)

    def grow(n):
        for i in range(n):
            endpoint = WebhookEndpointFactory(events=["incident.*"])
            NotificationRuleFactory(events=["incident.created"], recipients=[], users=[user], endpoints=[])
            emit("incident.created", make_subject(id=1000 + i + endpoint.pk), {})

    grow(2)
    few = count_queries(lambda: client.get(path))
    grow(10)
    many = count_queries(lambda: client.get(path))
    assert few == many
