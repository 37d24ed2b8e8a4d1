"""Fixtures of the schema-driven API tests: the OpenAPI schema as served, and a seeded database."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from incidents import services
from incidents.major import lifecycle, links, responders, updates
from incidents.response import plans, worktasks
from incidents.response.models import TriggerFiring, TriggerRule
from itsm import roles
from problems import lifecycle as problems
from problems import links as problem_links
from status.maintenance import services as maintenance
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory, SlaPolicyFactory


@pytest.fixture
def seeded(make_user):
    """An administrator's token and a few records of every kind (services, groups, incidents...)."""
    admin = make_user(roles.ADMINISTRATOR, roles.SERVICE_DESK_AGENT, username="admin")
    group = AssignmentGroupFactory(name="Service Desk", members=[admin])
    service = ServiceFactory(slug="vpn", owner_group=group)
    CategoryFactory(name="Network")
    SlaPolicyFactory(name="Respond in 1 h", kind="response", target_minutes=60)
    SlaPolicyFactory(name="Resolve in 8 h", kind="resolution", target_minutes=480)
    incidents = []
    for i in range(3):
        incident = services.open_incident(actor=admin, title=f"seed {i}", service=service)
        services.add_comment(incident, actor=admin, body="seen", visibility="public")
        incidents.append(incident)
    # An active major incident with a responder, an update and a linked incident, so the fuzzer
    # reaches its sub-resources (ids 1) instead of 404s.
    mi = lifecycle.propose(actor=admin, incident=incidents[0], reason="seed", declare=True)
    responders.page_responders(mi, actor=admin, user=admin)
    updates.post_update(mi, actor=admin, audience="external", status="investigating", body="Looking.")
    links.link_incidents(mi, actor=admin, incidents=[incidents[1]])
    # A response plan (version 1) and an inactive trigger rule with a firing, for their endpoints.
    plans.save_plan(
        actor=admin,
        values={"name": "Seed plan", "priorities": [1], "update_templates": [{"name": "First", "body": "Hi."}]},
        services=[service],
        tasks=[{"title": "Open the bridge", "role": "manager", "due_offset_minutes": 5}],
    )
    rule = TriggerRule.objects.create(name="Seed rule", conditions=[{"field": "priority", "op": "eq", "value": 1}])
    TriggerFiring.objects.create(
        rule=rule, incident=incidents[0], event="created", decision="proposed", major_incident=mi
    )
    # A task on the first incident and one on the major incident (task ids 1 and 2).
    worktasks.create_task(actor=admin, record=incidents[0], title="Call the vendor", assignee=admin)
    worktasks.create_task(actor=admin, record=mi, title="Fail over", assignment_group=group)
    # A scheduled maintenance window (id 1) so its detail, PATCH and cancel are reached.
    start = timezone.now() + timedelta(days=7)
    maintenance.announce(
        actor=admin,
        title="Seed maintenance",
        description="VPN concentrators are replaced.",
        services=[service],
        starts_at=start,
        ends_at=start + timedelta(hours=2),
    )
    seed_problems(admin, service, incidents, mi)
    token, _ = Token.objects.get_or_create(user=admin)
    return {"Authorization": f"Token {token.key}"}


def seed_problems(admin, service, incidents, mi):
    """Problems 1 (new, with incident 3 and the major incident linked) and 2 (a known error, id 1,
    whose words match incident 3's title), so the problem and KEDB endpoints are reached."""
    first = problems.open_problem(actor=admin, title="seed 2 keeps failing", service=service)
    problem_links.link_incidents(first, actor=admin, incidents=[incidents[2]])
    problem_links.link_major_incidents(first, actor=admin, major_incidents=[mi.pk])
    known = problems.open_problem(actor=admin, title="seed outage of the gateway", service=service)
    problems.run_transition(known, "investigate", actor=admin, payload={"owner": admin.pk})
    problems.run_transition(
        known, "mark_known_error", actor=admin, payload={"root_cause": "Gateway leak.", "workaround": "Restart it."}
    )
