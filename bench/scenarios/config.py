"""`config`: the shared configuration lists that every agent's screen and integration reads.

Seeds `scale` services (default 2,000), 200 categories (40 top-level, 160 children), 300 users
in 100 assignment groups (each with a manager, five members and an escalation group), and 24
SLA policies, then reads the first pages of each list and `/readyz`.
"""

from __future__ import annotations

import itertools
from typing import Any

from bench.registry import Scenario, Step, register

GROUPS = 100
USERS = 300
MEMBERS_PER_GROUP = 5
TOP_CATEGORIES = 40
CHILDREN_PER_CATEGORY = 4
CRITICALITIES = ["low", "medium", "high", "critical"]


def seed(scale: int) -> dict[str, Any]:
    """Insert the configuration records with bulk_create (and COPY for the membership rows)."""
    from bench.bulk import bulk_insert, copy_rows, seed_users
    from itsm import roles
    from itsm.models import AssignmentGroup, BusinessCalendar, Category, Service, SlaPolicy

    # Every agent holds one working role, so /users/ has roles to prefetch.
    users = seed_users("bench-agent", USERS, roles=[roles.SERVICE_DESK_AGENT, roles.RESOLVER, roles.READ_ONLY])

    groups = bulk_insert(
        AssignmentGroup,
        (
            AssignmentGroup(
                name=f"Bench team {i:03d}",
                email=f"bench-team-{i}@example.com",
                manager_id=users[i % USERS].pk,
            )
            for i in range(GROUPS)
        ),
        keep=True,
    )
    # Tier n escalates to tier n+1 (the last tier to none): one UPDATE per group is fine at 100.
    for lower, upper in itertools.pairwise(groups):
        lower.escalation_group_id = upper.pk
    AssignmentGroup.objects.bulk_update(groups[:-1], ["escalation_group"])
    membership = AssignmentGroup.members.through
    copy_rows(
        membership,
        (
            {"assignmentgroup": group.pk, "user": users[(g * MEMBERS_PER_GROUP + m) % USERS].pk}
            for g, group in enumerate(groups)
            for m in range(MEMBERS_PER_GROUP)
        ),
    )

    parents = bulk_insert(
        Category, (Category(name=f"Bench category {i:02d}") for i in range(TOP_CATEGORIES)), keep=True
    )
    bulk_insert(
        Category,
        (
            Category(name=f"Subcategory {c}", parent_id=parent.pk)
            for parent in parents
            for c in range(CHILDREN_PER_CATEGORY)
        ),
    )

    bulk_insert(
        Service,
        (
            Service(
                slug=f"bench-service-{i}",
                name=f"Bench service {i:07d}",
                description=f"Benchmark service number {i}.",
                owner_group_id=groups[i % GROUPS].pk,
                criticality=CRITICALITIES[i % len(CRITICALITIES)],
                downtime_cost_per_hour=(i % 50) * 100,
            )
            for i in range(scale)
        ),
    )

    calendar = BusinessCalendar.objects.get(name="24x7")
    first_services = list(Service.objects.order_by("id").values_list("id", flat=True)[:4])
    categories = [parent.pk for parent in parents[:4]]
    policies = []
    for kind, minutes in (("response", 15), ("resolution", 240)):
        for priority in range(1, 6):
            policies.append(
                SlaPolicy(
                    name=f"Bench {kind} P{priority}",
                    kind=kind,
                    priorities=[priority],
                    target_minutes=minutes * priority,
                    calendar=calendar,
                )
            )
        # The more specific policies: per service, and per service and category.
        for n, service_id in enumerate(first_services):
            policies.append(
                SlaPolicy(
                    name=f"Bench {kind} service {n}",
                    kind=kind,
                    priorities=[1, 2],
                    service_id=service_id,
                    category_id=categories[n] if n % 2 else None,
                    target_minutes=minutes,
                    calendar=calendar,
                )
            )
    bulk_insert(SlaPolicy, policies)
    return {"services": scale, "groups": GROUPS, "users": USERS, "policies": len(policies)}


register(
    Scenario(
        name="config",
        default_scale=2_000,
        seed=seed,
        description="Configuration lists (services, categories, groups, SLA policies, users) and /readyz.",
        # 500 requests a step: enough for a p99 that is not just the slowest one or two.
        steps=[
            Step("services", "/api/v1/services/", requests=500),
            Step("services-200", "/api/v1/services/?page_size=200", requests=200),
            Step("categories", "/api/v1/categories/", requests=500),
            Step("groups", "/api/v1/groups/", requests=500),
            Step("sla-policies", "/api/v1/sla-policies/", requests=500),
            Step("users", "/api/v1/users/", requests=500),
            Step("readyz", "/readyz", auth=False, requests=500),
        ],
    )
)
