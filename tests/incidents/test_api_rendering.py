"""The incident representation's hot path renders exactly what DRF's generic path renders."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from freezegun import freeze_time
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from incidents import services
from incidents.api import related
from incidents.api.serializers import IncidentSerializer
from incidents.models import Incident
from itsm import configcache, roles
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory
from tests.helpers import commit_bumps
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


def serializer_for(user) -> IncidentSerializer:
    request = Request(APIRequestFactory().get("/api/v1/incidents/"))
    request.user = user
    return IncidentSerializer(context={"request": request})


@freeze_time("2026-11-25 12:00:00", tick=False)
def test_hot_path_equals_drf_generic_rendering(page):
    agent, rows = page
    serializer = serializer_for(agent)
    incidents = list(Incident.objects.select_related("service").order_by("id"))
    related.load(incidents)
    for incident in incidents:
        assert serializer.to_representation(incident) == serializer.to_representation_generic(incident)


@freeze_time("2026-11-25 12:00:00", tick=False)
def test_clock_rows_render_like_model_clocks(page):
    """`related.load`'s plain rows and the model's clocks (policy from the cache) give the same `sla`."""
    agent, rows = page
    serializer = serializer_for(agent)
    for incident in Incident.objects.select_related("service"):
        related.load([incident])
        from_rows = serializer.get_sla(incident)
        related.forget(incident)
        assert from_rows == serializer.get_sla(incident)
        assert len(from_rows) == incident.sla_clocks.count()


def test_create_response_is_rendered_from_what_was_written(api, page, make_user):
    agent, rows = page
    commit_bumps()
    watcher = make_user()
    client = api.as_user(agent)
    body = {"title": "w", "service": "vpn", "watchers": [watcher.pk, agent.pk]}
    with CaptureQueriesContext(connection) as ctx:
        created = client.post("/api/v1/incidents/", body, format="json").json()
    reads = [q["sql"] for q in ctx.captured_queries if "incidents_slaclock" in q["sql"] and "SELECT" in q["sql"]]
    assert reads == []  # the clocks attach_clocks wrote are rendered, not read back
    fresh = client.get(f"/api/v1/incidents/{created['id']}/").json()
    assert created["watchers"] == fresh["watchers"] == sorted([watcher.pk, agent.pk])
    assert [(c["kind"], c["stage"], c["due_at"]) for c in created["sla"]] == [
        (c["kind"], c["stage"], c["due_at"]) for c in fresh["sla"]
    ]


def test_list_statements_do_not_grow_with_the_page(api, page):
    agent, rows = page
    commit_bumps()
    configcache.current()
    client = api.as_user(agent)
    counts, sqls = [], []
    for size in (5, 13):  # both pages hold open incidents (closed ones ask no policy)
        with CaptureQueriesContext(connection) as ctx:
            assert len(client.get(f"/api/v1/incidents/?page_size={size}").json()["results"]) == size
        counts.append(len(ctx.captured_queries))
        sqls.append([q["sql"][:90] for q in ctx.captured_queries])
    # Token, roles, the page, its watchers, its clocks, the user's groups (available transitions).
    assert counts[0] == counts[1] <= BUDGET_LIST, (counts, sqls)


def test_detail_statements(api, page):
    agent, rows = page
    commit_bumps()
    configcache.current()
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


def test_a_policy_the_snapshot_does_not_know_yet_renders(api, page):
    """A clock whose policy this process has not seen yet (its version bump still on the way) renders."""
    from django.db import connection

    from tests.factories import SlaPolicyFactory

    agent, rows = page
    commit_bumps()
    known = set(configcache.current().policies)
    SlaPolicyFactory(name="Newer", kind="response", target_minutes=5, service=rows[0].service)  # the most specific
    # Drop the bump unrun: this process keeps its snapshot, as if the change came from another one.
    connection.run_on_commit = [h for h in connection.run_on_commit if getattr(h[1], "owner", None) is None]
    incident = services.open_incident(actor=agent, title="late", service=rows[0].service)
    assert set(configcache.current().policies) == known
    related.load([incident])
    assert [c.policy.name for c in incident._api_clocks if c.policy_id not in known] == ["Newer"]


BUDGET_LIST = 6
BUDGET_DETAIL = 6


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
