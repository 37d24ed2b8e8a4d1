import pytest
from django.contrib.auth.models import Group

from itsm import roles
from itsm.models import BusinessCalendar, Category, DomainEvent, PriorityMatrixEntry, Service, SlaPolicy
from tests.factories import AssignmentGroupFactory, CategoryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_roles_exist_with_exact_names():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ALL_ROLES)


def test_administrator_role_has_config_permissions_and_reader_only_view():
    admin_perms = set(Group.objects.get(name=roles.ADMINISTRATOR).permissions.values_list("codename", flat=True))
    reader_perms = set(Group.objects.get(name=roles.READ_ONLY).permissions.values_list("codename", flat=True))
    assert {"add_service", "change_service", "change_slapolicy", "add_businesscalendar"} <= admin_perms
    assert "view_service" in reader_perms
    assert not any(p.startswith(("add_", "change_", "delete_")) for p in reader_perms)


def test_itil_priority_matrix_loaded():
    matrix = {(e.impact, e.urgency): e.priority for e in PriorityMatrixEntry.objects.all()}
    assert matrix == {
        (1, 1): 1,
        (1, 2): 2,
        (2, 1): 2,
        (1, 3): 3,
        (2, 2): 3,
        (3, 1): 3,
        (2, 3): 4,
        (3, 2): 4,
        (3, 3): 5,
    }
    assert PriorityMatrixEntry.objects.priority_for(2, 2) == 3


def test_24x7_calendar_exists():
    calendar = BusinessCalendar.objects.get(name="24x7")
    assert calendar.working_periods.count() == 7


def test_every_user_reads_configuration(api, reader, service):
    response = api.as_user(reader).get("/api/v1/services/")
    assert response.status_code == 200
    assert response.json()["results"][0]["slug"] == service.slug
    assert set(response.json()["results"][0]) >= {
        "id",
        "slug",
        "name",
        "owner_group",
        "criticality",
        "downtime_cost_per_hour",
        "active",
    }


def test_service_lookup_by_slug_and_id(api, reader, service):
    client = api.as_user(reader)
    assert client.get(f"/api/v1/services/{service.slug}/").json()["id"] == service.id
    assert client.get(f"/api/v1/services/{service.id}/").json()["slug"] == service.slug


def test_reader_cannot_write_and_nothing_changes(api, reader):
    response = api.as_user(reader).post("/api/v1/services/", {"slug": "x", "name": "X"}, format="json")
    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied"
    assert not Service.objects.filter(slug="x").exists()


def test_administrator_creates_service_and_event_is_recorded(api, administrator, group):
    response = api.as_user(administrator).post(
        "/api/v1/services/",
        {
            "slug": "payroll",
            "name": "Payroll",
            "owner_group": group.id,
            "criticality": "critical",
            "downtime_cost_per_hour": "1500.50",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["downtime_cost_per_hour"] == "1500.50"
    assert not DomainEvent.objects.exists()  # configuration changes publish no domain events (history keeps them)


def test_invalid_service_names_every_bad_field_and_writes_nothing(api, administrator):
    response = api.as_user(administrator).post(
        "/api/v1/services/",
        {
            "slug": "not a slug!",
            "name": "x" * 500,
            "criticality": "enormous",
            "downtime_cost_per_hour": "-1",
            "colour": "red",
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert set(body["errors"]) == {"slug", "name", "criticality", "downtime_cost_per_hour", "colour"}
    assert body["errors"]["colour"] == ["Unknown field."]
    assert Service.objects.count() == 0


def test_wrong_types_are_400(api, administrator):
    response = api.as_user(administrator).post(
        "/api/v1/groups/", {"name": ["a"], "members": "everyone", "manager": "x"}, format="json"
    )
    assert response.status_code == 400
    assert {"name", "members", "manager"} <= set(response.json()["errors"])


def test_read_only_field_is_refused(api, administrator, service):
    response = api.as_user(administrator).patch(f"/api/v1/services/{service.slug}/", {"id": 99}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"id": ["This field is read-only."]}


def test_category_one_level_only(api, administrator):
    parent = CategoryFactory(name="Hardware")
    child = CategoryFactory(name="Laptop", parent=parent)
    client = api.as_user(administrator)
    response = client.post("/api/v1/categories/", {"name": "Keyboard", "parent": child.id}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()["errors"]
    ok = client.post("/api/v1/categories/", {"name": "Printer", "parent": parent.id}, format="json")
    assert ok.status_code == 201
    assert Category.objects.filter(parent=parent).count() == 2


def test_group_members_manager_escalation(api, administrator, make_user):
    member = make_user(roles.RESOLVER)
    tier2 = AssignmentGroupFactory(name="Tier 2")
    response = api.as_user(administrator).post(
        "/api/v1/groups/",
        {
            "name": "Tier 1",
            "email": "t1@example.com",
            "members": [member.id],
            "manager": member.id,
            "escalation_group": tier2.id,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["members"] == [member.id]
    assert response.json()["escalation_group"] == tier2.id


def test_calendar_roundtrip_with_24_00_and_holidays(api, administrator):
    response = api.as_user(administrator).post(
        "/api/v1/calendars/",
        {
            "name": "Support",
            "timezone": "America/New_York",
            "working_hours": [
                {"weekday": 0, "start": "08:00", "end": "12:00"},
                {"weekday": 0, "start": "13:00", "end": "24:00"},
            ],
            "holidays": ["2026-12-25"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["working_hours"][1] == {"weekday": 0, "start": "13:00", "end": "24:00"}
    assert response.json()["holidays"] == ["2026-12-25"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"working_hours": [{"weekday": 0, "start": "10:00", "end": "09:00"}]}, "working_hours"),
        (
            {
                "working_hours": [
                    {"weekday": 1, "start": "09:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "13:00"},
                ]
            },
            "working_hours",
        ),
        ({"working_hours": [{"weekday": 7, "start": "09:00", "end": "12:00"}]}, "working_hours.0.weekday"),
        ({"working_hours": [{"weekday": 1, "start": "9am", "end": "12:00"}]}, "working_hours.0.start"),
    ],
)
def test_bad_calendars_are_refused(api, administrator, payload, field):
    response = api.as_user(administrator).post("/api/v1/calendars/", {"name": "Bad", **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not BusinessCalendar.objects.filter(name="Bad").exists()


def test_sla_policy_create_and_validation(api, administrator, service):
    calendar = BusinessCalendar.objects.get(name="24x7")
    client = api.as_user(administrator)
    ok = client.post(
        "/api/v1/sla-policies/",
        {
            "name": "P1 resolution",
            "kind": "resolution",
            "priorities": [1],
            "service": service.slug,
            "target_minutes": 240,
            "calendar": calendar.id,
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    assert ok.json()["pause_states"] == ["on_hold"]
    assert ok.json()["warning_thresholds"] == [50, 75, 90]
    bad = client.post(
        "/api/v1/sla-policies/",
        {
            "name": "Bad",
            "kind": "speed",
            "priorities": [0],
            "target_minutes": 0,
            "calendar": calendar.id,
            "warning_thresholds": [90, 50],
            "pause_states": ["closed"],
            "service": "nope",
        },
        format="json",
    )
    assert bad.status_code == 400
    assert {
        "kind",
        "priorities.0",
        "target_minutes",
        "warning_thresholds",
        "pause_states.0",
        "service",
    } <= set(bad.json()["errors"]), bad.json()
    assert not SlaPolicy.objects.filter(name="Bad").exists()


def test_threshold_out_of_range(api, administrator):
    calendar = BusinessCalendar.objects.get(name="24x7")
    response = api.as_user(administrator).post(
        "/api/v1/sla-policies/",
        {
            "name": "X",
            "kind": "response",
            "priorities": [2],
            "target_minutes": 10,
            "calendar": calendar.id,
            "warning_thresholds": [50, 100],
        },
        format="json",
    )
    assert response.status_code == 400
    assert "warning_thresholds.1" in response.json()["errors"]


def test_users_endpoint_lists_roles_and_groups(api, reader, make_user):
    team = AssignmentGroupFactory(name="Network")
    agent = make_user(roles.SERVICE_DESK_AGENT, groups=[team], username="alice")
    client = api.as_user(reader)
    body = client.get("/api/v1/users/?username=alice").json()["results"]
    assert body == [
        {
            "id": agent.id,
            "username": "alice",
            "full_name": agent.get_full_name(),
            "email": "alice@example.com",
            "roles": [roles.SERVICE_DESK_AGENT],
            "groups": [team.id],
            "is_active": True,
        }
    ]
    assert [u["username"] for u in client.get(f"/api/v1/users/?group={team.id}").json()["results"]] == ["alice"]
    by_role = client.get("/api/v1/users/", {"role": roles.SERVICE_DESK_AGENT}).json()["results"]
    assert [u["username"] for u in by_role] == ["alice"]
    refused = client.post("/api/v1/users/", {}, format="json")
    assert refused.status_code == 405, refused.json()


def test_filters_validate_values(api, reader):
    ServiceFactory(slug="a", criticality="high")
    ServiceFactory(slug="b", criticality="low")
    ServiceFactory(slug="c", criticality="medium")
    client = api.as_user(reader)
    slugs = [s["slug"] for s in client.get("/api/v1/services/?criticality=high,low&ordering=slug").json()["results"]]
    assert slugs == ["a", "b"]
    bad = client.get("/api/v1/services/?criticality=huge")
    assert bad.status_code == 400 and "criticality" in bad.json()["errors"]
    bad_order = client.get("/api/v1/services/?ordering=password")
    assert bad_order.status_code == 400 and "ordering" in bad_order.json()["errors"]


def test_page_size_is_capped(api, reader):
    for i in range(3):
        ServiceFactory(slug=f"s{i}")
    body = api.as_user(reader).get("/api/v1/services/?page_size=1").json()
    assert len(body["results"]) == 1 and body["next"]
    assert api.get("/api/v1/services/?page_size=100000").status_code == 200


def test_priority_matrix_editable_by_admin_only(api, administrator, reader):
    cell = PriorityMatrixEntry.objects.get(impact=3, urgency=3)
    assert api.as_user(reader).patch(f"/api/v1/priority-matrix/{cell.id}/", {"priority": 4}).status_code == 403
    response = api.as_user(administrator).patch(f"/api/v1/priority-matrix/{cell.id}/", {"priority": 4})
    assert response.status_code == 200
    assert PriorityMatrixEntry.objects.priority_for(3, 3) == 4


@pytest.mark.parametrize(
    "actions",
    [
        {"breach": ["page_the_ceo"]},
        {"150": ["notify_group"]},
        {"breach": "notify_group"},
        {"breach": [{"notify_users": ["bob"]}]},
        ["notify_group"],
    ],
)
def test_sla_policy_actions_are_validated(api, administrator, actions):
    calendar = BusinessCalendar.objects.get(name="24x7")
    response = api.as_user(administrator).post(
        "/api/v1/sla-policies/",
        {
            "name": "A",
            "kind": "resolution",
            "priorities": [1],
            "target_minutes": 60,
            "calendar": calendar.id,
            "actions": actions,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "actions" in response.json()["errors"], response.json()
    assert not SlaPolicy.objects.filter(name="A").exists()


def test_sla_policy_with_actions(api, administrator, make_user):
    calendar = BusinessCalendar.objects.get(name="24x7")
    boss = make_user(roles.RESOLVER)
    actions = {
        "75": ["notify_group"],
        "breach": ["notify_group_manager", {"notify_users": [boss.id]}, "reassign_escalation_group"],
    }
    response = api.as_user(administrator).post(
        "/api/v1/sla-policies/",
        {
            "name": "B",
            "kind": "resolution",
            "priorities": [1],
            "target_minutes": 60,
            "calendar": calendar.id,
            "actions": actions,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["actions"] == actions
