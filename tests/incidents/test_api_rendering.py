"""How incidents are rendered: declared prefetches, fixed statement counts, create equal to detail."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time

from incidents.api.serializers import IncidentSerializer, incident_queryset
from incidents.choices import ResolutionCode
from itsm import roles
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

STATES = ["new", "in_progress", "on_hold", "resolved", "closed", "cancelled"]


@pytest.fixture
def page(make_user, sla_policies):
    """Incidents in every state, with every optional field set on some and unset on others."""
    agent = make_user(roles.SERVICE_DESK_AGENT, username="agent")
    caller = make_user()
    group = AssignmentGroupFactory(name="Desk", members=[agent])
    service = ServiceFactory(slug="vpn", owner_group=group)
    category = CategoryFactory()
    parent = IncidentFactory(title="parent", service=service)
    rows = [parent]
    for i, state in enumerate(STATES):
        rows.append(IncidentFactory(title=f"bare {state}", state=state, group=group))
        rows.append(
            IncidentFactory(
                title=f"full {state}",
                state=state,
                service=service,
                category=category,
                caller=caller,
                caller_name="Carla Caller",
                caller_email="carla@example.com",
                assignee=agent,
                tags=["vpn", f"t{i}"],
                parent=parent,
                watchers=[caller, agent],
                impact=1 + i % 3,
                urgency=1 + (i + 1) % 3,
            )
        )
    return agent, rows


@freeze_time("2026-11-25 12:00:00", tick=False)
def test_every_state_renders_with_nulls_for_unset_values(page):
    """Unset enum and email values are null (never ""), lists are lists, clocks come prefetched."""
    agent, rows = page
    data = IncidentSerializer(list(incident_queryset().order_by("id")), many=True).data
    assert {row["state"] for row in data} == set(STATES)
    for row in data:
        assert row["hold_reason"] is None or row["state"] == "on_hold", row
        assert row["resolution_code"] in (None, *[c for c, _ in ResolutionCode.choices])
        assert row["caller_email"] in (None, "carla@example.com")
        assert row["problem"] is None and row["major_incident"] is None
        assert row["watchers"] == sorted(row["watchers"])
    full = [row for row in data if row["title"].startswith("full")]
    assert all(row["watchers"] and row["service"] == "vpn" for row in full)
    bare = [row for row in data if row["title"].startswith("bare")]
    assert all(row["caller_email"] is None and row["service"] is None for row in bare)


def test_create_response_is_rendered_from_what_was_written(api, page, make_user):
    agent, rows = page
    watcher = make_user()
    client = api.as_user(agent)
    body = {"title": "w", "service": "vpn", "watchers": [watcher.pk, agent.pk]}
    with CaptureQueriesContext(connection) as ctx:
        created = client.post("/api/v1/incidents/", body, format="json").json()
    # Read back as detail reads it: the row, its watchers and its clocks (once each).
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT")]
    assert len([q for q in reads if 'FROM "incidents_slaclock"' in q]) == 1, reads
    fresh = client.get(f"/api/v1/incidents/{created['id']}/").json()
    assert created["watchers"] == fresh["watchers"] == sorted([watcher.pk, agent.pk])
    for volatile in ("available_transitions",):
        assert created[volatile] == fresh[volatile]
    assert {k: v for k, v in created.items() if k != "sla"} == {k: v for k, v in fresh.items() if k != "sla"}
    assert [(c["kind"], c["stage"], c["due_at"]) for c in created["sla"]] == [
        (c["kind"], c["stage"], c["due_at"]) for c in fresh["sla"]
    ]


def test_list_statements_do_not_grow_with_the_page(api, page):
    agent, rows = page
    client = api.as_user(agent)
    counts, sqls = [], []
    for size in (5, 13):  # both pages hold open incidents (closed ones ask no policy)
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"/api/v1/incidents/?page_size={size}").json()["results"]) == size
        counts.append(len(ctx.captured_queries))
        sqls.append([q["sql"][:90] for q in ctx.captured_queries])
    # Token, roles, the page, its watchers, its clocks, their policies, the user's groups (available transitions).
    assert counts[0] == counts[1] <= BUDGET_LIST, (counts, sqls)


def test_detail_statements(api, page):
    agent, rows = page
    client = api.as_user(agent)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/api/v1/incidents/{rows[-1].pk}/").status_code == 200
    assert len(ctx.captured_queries) <= BUDGET_DETAIL, [q["sql"][:80] for q in ctx.captured_queries]


def test_transitions_list_reads_no_clocks_or_watchers(api, page):
    agent, rows = page
    client = api.as_user(agent)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/api/v1/incidents/{rows[1].pk}/transitions/").status_code == 200
    assert not [q for q in ctx.captured_queries if "slaclock" in q["sql"] or "watchers" in q["sql"]]


BUDGET_LIST = 7
BUDGET_DETAIL = 7


def test_service_field_answers_like_drfs_slug_field(page):
    """The cached service lookup gives DRF's answers: the instance, and the same error for an unknown slug."""
    from rest_framework import serializers

    from incidents.api.serializers import IncidentWriteSerializer
    from itsm.models import Service

    reference = serializers.SlugRelatedField(slug_field="slug", queryset=Service.objects.all())
    for body in ({"title": "x", "service": "vpn"}, {"title": "x", "service": "nope"}, {"title": "x", "service": 7}):
        ours = IncidentWriteSerializer(data=body)
        ours.is_valid()
        try:
            expected = {"service": reference.run_validation(body["service"])}
        except serializers.ValidationError as exc:
            expected = {"errors": {"service": exc.detail}}
        if "errors" in expected:
            assert ours.errors == expected["errors"]
        else:
            assert ours.validated_data["service"] == expected["service"]
            assert ours.validated_data["service"].owner_group.name == "Desk"
