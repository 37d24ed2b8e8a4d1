"""The agents' console for incidents: pages, transitions, saves, permissions, bulk actions, query counts.

Everything is driven through the Django test client as an agent would click; assertions check
the database afterwards (state, version, timeline), and refusals assert that nothing changed.
"""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.admin import IncidentAdmin
from incidents.admin.display import parse_number, sla_summary
from incidents.choices import IncidentState, TimelineType
from incidents.models import Comment, Incident, IncidentSettings, SlaClock, TimelineEvent
from incidents.narration import TimelineNarrator
from itsm import roles
from itsm.admin_large import LargeTablePaginator, estimated_rows
from tests.factories import AssignmentGroupFactory, ServiceFactory
from tests.incidents.factories import IncidentFactory

pytestmark = pytest.mark.django_db

S = IncidentState
CHANGELIST = "/admin/incidents/incident/"


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def transition_url(incident: Incident, name: str) -> str:
    return reverse(f"admin:incidents_incident_transition_{name}", args=[incident.pk])


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def form_data(incident: Incident, **overrides) -> dict:
    """What the change form posts for `incident` as loaded now (plus overrides)."""
    data = {
        "title": incident.title,
        "description": incident.description,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "service": incident.service_id or "",
        "category": incident.category_id or "",
        "caller": incident.caller_id or "",
        "caller_name": incident.caller_name,
        "caller_email": incident.caller_email,
        "assignment_group": incident.assignment_group_id or "",
        "assignee": incident.assignee_id or "",
        "tags": ", ".join(incident.tags),
        "parent": incident.parent_id or "",
        "loaded_version": incident.version,
        "_save": "Save",
    }
    data.update(overrides)
    return data


def timeline_count(incident: Incident, type_: str | None = None) -> int:
    qs = TimelineEvent.objects.filter(incident=incident)
    return qs.filter(type=type_).count() if type_ else qs.count()


@pytest.fixture
def console(client, agent):
    """The test client logged in as the agent (member of the `group` that owns `service`)."""
    client.force_login(agent)
    return client


@pytest.fixture
def incident(agent, service, sla_policies):
    """A new incident of the agent's group with response and resolution clocks."""
    return IncidentFactory(actor=agent, service=service, title="VPN is down")


# --- pages render -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "",
        "?queue=my_work",
        "?queue=mine",
        "?queue=my_groups",
        "?queue=unassigned",
        "?state__exact=new&state__exact=on_hold",
        "?priority__exact=3",
        "?sla=breached",
        "?sla=due_1h",
        "?sla=paused",
        "?channel__exact=monitoring",
        "?monitoring=yes",
        "?monitoring=no",
        "?opened_at_from_0=2020-01-01&opened_at_from_1=00:00&opened_at_to_0=2099-01-01&opened_at_to_1=00:00",
        "?q=vpn",
        "?q=vpn+down",
        "?q=INC9999999",
        "?q=123&_text=1",
        "?p=2",
    ],
)
def test_changelist_renders_with_each_filter(console, incident, query):
    response = console.get(CHANGELIST + query)
    assert response.status_code == 200, response.content[:500]
    assert b"Incidents" in response.content or b"incidents" in response.content


def test_changelist_filters_by_related_ids(console, incident, agent, group, service):
    services.assign(incident, actor=agent, assignee=agent)
    for query in (
        f"?service__id__exact={service.pk}",
        f"?assignment_group__id__exact={group.pk}",
        f"?assignee__id__exact={agent.pk}",
    ):
        response = console.get(CHANGELIST + query)
        assert response.status_code == 200
        assert incident.number in response.content.decode()


@pytest.mark.parametrize("state", [s.value for s in S])
def test_change_page_renders_in_each_state(console, agent, service, sla_policies, state):
    incident = IncidentFactory(actor=agent, service=service, state=state)
    response = console.get(change_url(incident))
    assert response.status_code == 200
    html = response.content.decode()
    assert incident.number in html
    assert 'id="timeline"' in html
    assert 'id="sla-clocks"' in html


def test_other_pages_render(console, incident, administrator, client):
    assert console.get(f"{CHANGELIST}add/").status_code == 200
    for name in services.available_transitions(incident, incident.created_by):
        assert console.get(transition_url(incident, name)).status_code == 200
    assert console.get("/admin/incidents/slaclock/").status_code == 200
    assert console.get("/admin/incidents/slaclock/?stage__exact=running&kind__exact=response").status_code == 200
    assert console.get(f"/admin/incidents/slaclock/?q={incident.number}").status_code == 200
    clock = SlaClock.objects.filter(incident=incident).first()
    assert console.get(f"/admin/incidents/slaclock/{clock.pk}/change/").status_code == 200
    # settings: the changelist is the change page of the single row
    response = console.get("/admin/incidents/incidentsettings/")
    assert response.status_code == 302
    assert console.get(response.url).status_code == 200
    assert console.get("/admin/").status_code == 200
    assert console.get(reverse("admin:incidents_incident_history", args=[incident.pk])).status_code == 200


def test_my_work_lists_mine_and_my_groups_unassigned(console, agent, group, other_group, service):
    mine = IncidentFactory(actor=agent, service=service, title="Mine")
    services.assign(mine, actor=agent, assignee=agent)
    unassigned = IncidentFactory(actor=agent, service=service, title="Unassigned of my group")
    foreign = IncidentFactory(actor=agent, assignment_group=other_group, title="Other group")
    done = IncidentFactory(actor=agent, service=service, title="Resolved", state=S.RESOLVED)

    response = console.get(f"{CHANGELIST}my-work/")
    assert response.status_code == 302
    assert response.url.endswith("?queue=my_work")
    html = console.get(response.url).content.decode()
    assert mine.number in html
    assert unassigned.number in html
    assert foreign.number not in html
    assert done.number not in html
    # linked from the changelist
    assert "/admin/incidents/incident/my-work/" in console.get(CHANGELIST).content.decode()


# --- list columns, search and filters ----------------------------------------------------------------
def test_list_shows_badges_age_and_time_to_breach(console, incident):
    html = console.get(CHANGELIST).content.decode()
    assert incident.number in html
    assert "P3" in html  # impact 2 x urgency 2 -> P3
    assert "New" in html
    assert " left" in html  # the response clock counts down


def test_alert_columns_for_monitoring_incidents(console, agent, service):
    alert = IncidentFactory(actor=agent, service=service, channel="monitoring", dedup_key="disk-full")
    Incident.objects.filter(pk=alert.pk).update(alert_count=7, alert_last_seen_at=timezone.now())
    html = console.get(CHANGELIST + "?monitoring=yes").content.decode()
    assert alert.number in html
    assert "×7" in html
    assert console.get(change_url(alert)).status_code == 200


def test_sla_filters(console, agent, service, sla_policies):
    now = timezone.now()
    breached = IncidentFactory(actor=agent, service=service, opened_at=now - timedelta(hours=3), title="Late")
    due_soon = IncidentFactory(
        actor=agent, service=service, opened_at=now - timedelta(hours=7, minutes=30), title="Almost late"
    )
    services.run_transition(due_soon, "start", actor=agent)  # response clock met; resolution due in 30 min
    paused = IncidentFactory(actor=agent, service=service, state=S.ON_HOLD, title="Waiting")
    fresh = IncidentFactory(actor=agent, service=service, state=S.IN_PROGRESS, title="Fresh")

    def listed(query):
        html = console.get(CHANGELIST + query).content.decode()
        return {i.number for i in (breached, due_soon, paused, fresh) if i.number in html}

    assert listed("?sla=breached") == {breached.number, due_soon.number}  # due_soon's response was late too
    assert listed("?sla=due_1h") == {due_soon.number}
    assert listed("?sla=paused") == {paused.number}
    html = console.get(CHANGELIST).content.decode()
    assert "Breached" in html
    assert "Paused" in html


def test_state_filter_ticks_several_states_as_one_in(console, agent, service):
    new = IncidentFactory(actor=agent, service=service)
    held = IncidentFactory(actor=agent, service=service, state=S.ON_HOLD)
    done = IncidentFactory(actor=agent, service=service, state=S.RESOLVED)
    with CaptureQueriesContext(connection) as ctx:
        html = console.get(CHANGELIST + "?state__exact=new&state__exact=on_hold").content.decode()
    assert new.number in html and held.number in html and done.number not in html
    sqls = [q["sql"] for q in ctx.captured_queries]
    listing = [sql for sql in sqls if 'FROM "incidents_incident"' in sql and "WHERE" in sql and "state" in sql]
    assert listing and all('"state" IN (' in sql for sql in listing), listing  # indexable on PostgreSQL 15


def test_search_by_number_jumps_to_the_incident(console, incident):
    response = console.get(CHANGELIST + f"?q={incident.number}")
    assert response.status_code == 302
    assert response.url == change_url(incident)

    digits = str(int(incident.number[3:]))
    response = console.get(CHANGELIST + f"?q={digits}")
    assert response.url == change_url(incident)
    assert any("Search titles and descriptions" in t for t in texts(response))

    response = console.get(CHANGELIST + f"?q={digits}&_text=1")
    assert response.status_code == 200
    assert incident.number in response.content.decode()  # the number still matches among the results


def test_search_by_words(console, agent, service):
    vpn = IncidentFactory(actor=agent, service=service, title="VPN drops", description="Since the update")
    mail = IncidentFactory(actor=agent, service=service, title="Mail slow", description="Outlook hangs")
    html = console.get(CHANGELIST + "?q=outlook").content.decode()
    assert mail.number in html and vpn.number not in html
    html = console.get(CHANGELIST + "?q=vpn+update").content.decode()
    assert vpn.number in html and mail.number not in html


def test_parse_number():
    assert parse_number("INC0000123") == ("INC0000123", True)
    assert parse_number(" inc 123 ") == ("INC0000123", True)
    assert parse_number("123") == ("INC0000123", False)
    assert parse_number("vpn") is None
    assert parse_number("0") is None


# --- transitions from the change page ------------------------------------------------------------------
def test_change_page_shows_only_available_transitions(console, incident):
    html = console.get(change_url(incident)).content.decode()
    for name in ("start", "resolve", "cancel"):
        assert transition_url(incident, name) in html
    for name in ("hold", "resume", "reopen", "close"):
        assert transition_url(incident, name) not in html


def test_transition_runs_the_service(console, incident, agent):
    events_before = timeline_count(incident, TimelineType.TRANSITION)
    response = console.post(transition_url(incident, "start"), {"version": incident.version})
    assert response.status_code == 302
    assert response.url == change_url(incident)
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert incident.assignee == agent  # the acting member takes it
    assert timeline_count(incident, TimelineType.TRANSITION) == events_before + 1
    assert any("now In progress" in t for t in texts(response))

    response = console.post(
        transition_url(incident, "hold"), {"version": incident.version, "hold_reason": "awaiting_vendor"}
    )
    incident.refresh_from_db()
    assert incident.state == S.ON_HOLD
    assert incident.hold_reason == "awaiting_vendor"

    console.post(transition_url(incident, "resume"), {"version": incident.version})
    incident.refresh_from_db()
    console.post(
        transition_url(incident, "resolve"),
        {"version": incident.version, "resolution_code": "fixed", "resolution_notes": "Rebooted."},
    )
    incident.refresh_from_db()
    assert incident.state == S.RESOLVED
    assert incident.resolution_notes == "Rebooted."
    assert incident.resolved_at is not None
    console.post(transition_url(incident, "reopen"), {"version": incident.version, "reason": "Back again."})
    incident.refresh_from_db()
    assert incident.state == S.IN_PROGRESS
    assert Comment.objects.filter(incident=incident, body="Back again.").exists()


def test_missing_required_field_shows_an_error_and_changes_nothing(console, incident):
    version, events = incident.version, timeline_count(incident)
    response = console.post(
        transition_url(incident, "resolve"), {"version": incident.version, "resolution_code": "fixed"}
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == S.NEW
    assert incident.version == version
    assert timeline_count(incident) == events


def test_transition_not_allowed_now_is_refused_with_the_reason(console, incident):
    response = console.post(transition_url(incident, "close"), {"version": incident.version})
    assert response.status_code == 302
    assert any("available now" in t for t in texts(response))
    incident.refresh_from_db()
    assert incident.state == S.NEW


def test_stale_transition_is_refused(console, incident, agent):
    loaded = incident.version
    services.update_incident(incident, actor=agent, changes={"title": "Changed meanwhile"})
    response = console.post(transition_url(incident, "start"), {"version": loaded})
    assert any("changed since you read it" in t for t in texts(response))
    incident.refresh_from_db()
    assert incident.state == S.NEW


# --- saving the change form -------------------------------------------------------------------------
def test_save_calls_update_incident_with_the_changed_fields(console, incident):
    response = console.post(change_url(incident), form_data(incident, title="VPN down in Berlin", tags="vpn, emea"))
    assert response.status_code == 302, response.content.decode()[:2000]
    incident.refresh_from_db()
    assert incident.title == "VPN down in Berlin"
    assert incident.tags == ["vpn", "emea"]
    changed = TimelineEvent.objects.filter(incident=incident, type=TimelineType.FIELD_CHANGED)
    assert {e.data["field"] for e in changed} == {"title", "tags"}


def test_impact_change_rederives_priority(console, incident):
    console.post(change_url(incident), form_data(incident, impact=1, urgency=1))
    incident.refresh_from_db()
    assert incident.priority == 1


def test_stale_save_is_refused_and_nothing_is_lost(console, incident, agent):
    page_version = incident.version
    services.update_incident(incident, actor=agent, changes={"description": "Another agent's words"})
    response = console.post(change_url(incident), form_data(incident, title="Mine", loaded_version=page_version))
    assert response.status_code == 200
    assert "changed since you read it" in response.content.decode()
    incident.refresh_from_db()
    assert incident.title == "VPN is down"
    assert incident.description == "Another agent's words"


def test_invalid_save_names_the_field(console, incident, other_group, make_user):
    outsider = make_user(roles.RESOLVER, groups=[other_group])
    response = console.post(change_url(incident), form_data(incident, assignee=outsider.pk))
    assert response.status_code == 200
    assert "is not a member of" in response.content.decode()
    incident.refresh_from_db()
    assert incident.assignee_id is None


def test_add_page_opens_an_incident_through_the_service(console, service, group, agent):
    response = console.post(
        f"{CHANGELIST}add/",
        {
            "title": "Printer on fire",
            "description": "Third floor",
            "service": service.pk,
            "impact": 1,
            "urgency": 2,
            "caller_name": "Bob Caller",
            "caller_email": "bob@example.com",
            "channel": "phone",
            "assignment_group": group.pk,
            "assignee": agent.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    incident = Incident.objects.get(title="Printer on fire")
    assert response.url == change_url(incident)
    assert incident.number.startswith("INC")
    assert incident.priority == 2  # derived: impact 1 x urgency 2
    assert incident.channel == "phone"
    assert incident.created_by == agent
    assert timeline_count(incident, TimelineType.CREATED) == 1


def test_add_page_refusal_creates_nothing(console, group, other_group, make_user):
    outsider = make_user(roles.RESOLVER, groups=[other_group])
    response = console.post(
        f"{CHANGELIST}add/",
        {
            "title": "Bad",
            "impact": 2,
            "urgency": 2,
            "channel": "phone",
            "assignment_group": group.pk,
            "assignee": outsider.pk,
        },
    )
    assert response.status_code == 200
    assert "is not a member of" in response.content.decode()
    assert not Incident.objects.filter(title="Bad").exists()


def test_no_delete_anywhere(console, incident, administrator, client):
    client.force_login(administrator)
    delete_url = reverse("admin:incidents_incident_delete", args=[incident.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert Incident.objects.filter(pk=incident.pk).exists()
    html = client.get(CHANGELIST).content.decode()
    assert "delete_selected" not in html


# --- permissions -------------------------------------------------------------------------------------
def test_read_only_user_sees_everything_and_changes_nothing(client, reader, incident, agent):
    incident = services.update_incident(incident, actor=agent, changes={"tags": ["vpn", "emea"]})
    client.force_login(reader)
    assert client.get(CHANGELIST).status_code == 200
    response = client.get(change_url(incident))
    assert response.status_code == 200
    html = response.content.decode()
    assert "may read incidents but not change them" in html
    for name in services.TRANSITION_NAMES:
        assert transition_url(incident, name) not in html
    assert 'id="comment_form"' not in html
    assert "vpn, emea" in html  # tags read as words on the read-only page
    assert client.get(f"{CHANGELIST}add/").status_code == 403

    version = incident.version
    assert client.post(change_url(incident), form_data(incident, title="Nope")).status_code == 403
    response = client.post(transition_url(incident, "start"), {"version": version})
    assert any("may read incidents but not change them" in t for t in texts(response))
    comment_url = reverse("admin:incidents_incident_comment", args=[incident.pk])
    response = client.post(comment_url, {"body": "x", "visibility": "public"})
    assert any("may read incidents but not change them" in t for t in texts(response))
    incident.refresh_from_db()
    assert (incident.title, incident.state, incident.version) == ("VPN is down", S.NEW, version)
    assert not Comment.objects.filter(incident=incident).exists()


def test_agent_of_another_group_gets_the_policy_refusal(client, make_user, other_group, incident):
    stranger = make_user(roles.SERVICE_DESK_AGENT, groups=[other_group])
    client.force_login(stranger)
    html = client.get(change_url(incident)).content.decode()
    assert "belongs to another group" in html
    assert transition_url(incident, "start") not in html

    version = incident.version
    assert client.post(change_url(incident), form_data(incident, title="Hijacked")).status_code == 403
    response = client.post(
        transition_url(incident, "resolve"),
        {"version": version, "resolution_code": "fixed", "resolution_notes": "Not mine to fix."},
    )
    assert any("belongs to another group" in t for t in texts(response))
    incident.refresh_from_db()
    assert (incident.title, incident.state, incident.version) == ("VPN is down", S.NEW, version)


def test_closed_incident_is_read_only(console, agent, service):
    closed = IncidentFactory(actor=agent, service=service, state=S.CLOSED)
    html = console.get(change_url(closed)).content.decode()
    assert "can no longer be changed" in html
    assert console.post(change_url(closed), form_data(closed, title="Late edit")).status_code == 403


# --- comments --------------------------------------------------------------------------------------
def test_comment_from_the_change_page(console, incident):
    url = reverse("admin:incidents_incident_comment", args=[incident.pk])
    response = console.post(url, {"body": "Called the user back.", "visibility": "public"})
    assert response.status_code == 302
    console.post(url, {"body": "Looks like the firewall.", "visibility": "internal"})
    comments = list(Comment.objects.filter(incident=incident).order_by("id"))
    assert [(c.body, c.visibility) for c in comments] == [
        ("Called the user back.", "public"),
        ("Looks like the firewall.", "internal"),
    ]
    assert timeline_count(incident, TimelineType.COMMENTED) == 2
    html = console.get(change_url(incident)).content.decode()
    assert "Called the user back." in html
    assert "Added a public comment." in html
    assert "Added an internal work note." in html


def test_empty_comment_is_refused(console, incident):
    response = console.post(reverse("admin:incidents_incident_comment", args=[incident.pk]), {"body": ""})
    assert any("Write a comment" in t for t in texts(response))
    assert not Comment.objects.filter(incident=incident).exists()


# --- timeline -------------------------------------------------------------------------------------
def test_timeline_reads_as_sentences(console, incident, agent, group):
    services.run_transition(incident, "start", actor=agent)
    services.update_incident(incident, actor=agent, changes={"urgency": 1})
    html = console.get(change_url(incident)).content.decode()
    assert "Start work: New → In progress." in html
    assert "Urgency changed from 2 - Medium to 1 - High." in html
    assert f"Assigned to {group.name} / none." in html or f"Assigned to {group.name} / nobody." in html
    assert "Response SLA met" in html


def test_narrator_covers_every_event_type(incident, agent):
    events = [
        TimelineEvent(incident=incident, type=t, data=data)
        for t, data in [
            ("created", {"number": "INC1", "channel": "api", "priority": 3}),
            ("field_changed", {"field": "service", "old": None, "new": incident.service_id}),
            ("field_changed", {"field": "tags", "old": [], "new": ["a"]}),
            ("assigned", {"old_group": 1, "group": None, "old_assignee": agent.pk, "assignee": None}),
            ("transition", {"name": "hold", "from": "in_progress", "to": "on_hold"}),
            ("commented", {"comment": 1, "visibility": "public"}),
            ("watcher_added", {"user": agent.pk}),
            ("watcher_removed", {"user": agent.pk}),
            ("linked", {"kind": "parent", "target": incident.pk}),
            ("unlinked", {"kind": "child", "target": incident.pk}),
            ("sla", {"policy": 999, "kind": "response", "event": "warning", "percent": 75}),
            ("alert", {"count": 3, "last_seen": "now"}),
            ("notified", {"event": "incident.created", "channel": "email", "recipient": "a@example.com"}),
            ("workaround_applied", {"known_error": 4}),
        ]
    ]
    narrator = TimelineNarrator(events)
    sentences = [narrator.sentence(e) for e in events]
    assert all(s and s.endswith(".") for s in sentences), sentences
    assert f"Linked to parent {incident.number}." in sentences
    assert "Response SLA at 75% of its target (#999)." in sentences


# --- bulk actions --------------------------------------------------------------------------------------
def test_bulk_assign_to_me_reports_successes_and_refusals(console, agent, service, other_group):
    mine = IncidentFactory(actor=agent, service=service)
    foreign = IncidentFactory(assignment_group=other_group)
    response = console.post(
        CHANGELIST, {"action": "assign_to_me", "_selected_action": [mine.pk, foreign.pk], "index": 0}
    )
    assert response.status_code == 302
    messages_ = texts(response)
    assert any("1 incident(s) assigned to you" in t and mine.number in t for t in messages_)
    assert any(foreign.number in t and "belongs to another group" in t for t in messages_)
    mine.refresh_from_db()
    foreign.refresh_from_db()
    assert mine.assignee == agent
    assert foreign.assignee is None


def test_bulk_assign_to_group_asks_for_the_group(console, agent, service, group):
    target = AssignmentGroupFactory(name="Network")
    incidents = [IncidentFactory(actor=agent, service=service) for _ in range(2)]
    ids = [i.pk for i in incidents]
    response = console.post(CHANGELIST, {"action": "assign_to_group", "_selected_action": ids, "index": 0})
    assert response.status_code == 200
    assert "Assign to a group" in response.content.decode()
    assert all(i.assignment_group_id == group.pk for i in Incident.objects.filter(pk__in=ids))

    response = console.post(
        CHANGELIST, {"action": "assign_to_group", "_selected_action": ids, "apply": "1", "group": target.pk}
    )
    assert response.status_code == 302
    assert set(Incident.objects.filter(pk__in=ids).values_list("assignment_group", flat=True)) == {target.pk}
    assert any("2 incident(s) assigned to Network" in t for t in texts(response))


def test_bulk_resolve_with_code_and_notes(console, agent, service):
    open_one = IncidentFactory(actor=agent, service=service)
    closed = IncidentFactory(actor=agent, service=service, state=S.CLOSED)
    ids = [open_one.pk, closed.pk]
    # missing notes: the form asks again, nothing changes
    response = console.post(
        CHANGELIST,
        {"action": "resolve_selected", "_selected_action": ids, "apply": "1", "resolution_code": "fixed"},
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    open_one.refresh_from_db()
    assert open_one.state == S.NEW

    response = console.post(
        CHANGELIST,
        {
            "action": "resolve_selected",
            "_selected_action": ids,
            "apply": "1",
            "resolution_code": "workaround",
            "resolution_notes": "Restarted the service.",
        },
    )
    assert response.status_code == 302
    open_one.refresh_from_db()
    assert (open_one.state, open_one.resolution_code) == (S.RESOLVED, "workaround")
    assert any(closed.number in t and "refused" in t for t in texts(response))


def test_read_only_user_has_no_bulk_actions(client, reader, incident):
    client.force_login(reader)
    html = client.get(CHANGELIST).content.decode()
    assert "assign_to_me" not in html
    response = client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [incident.pk], "index": 0})
    incident.refresh_from_db()
    assert incident.assignee_id is None
    assert response.status_code in (200, 302, 403)


# --- settings and clocks -------------------------------------------------------------------------------
def test_settings_singleton(client, administrator, agent):
    client.force_login(administrator)
    settings_row = IncidentSettings.current()
    assert client.get("/admin/incidents/incidentsettings/add/").status_code == 403
    url = f"/admin/incidents/incidentsettings/{settings_row.pk}/change/"
    response = client.post(
        url, {"auto_close_after_hours": 48, "reopen_window_days": 5, "hold_reminder_after_hours": 24}
    )
    assert response.status_code == 302
    settings_row.refresh_from_db()
    assert (settings_row.auto_close_after_hours, settings_row.reopen_window_days) == (48, 5)
    assert client.post(f"/admin/incidents/incidentsettings/{settings_row.pk}/delete/").status_code == 403

    client.force_login(agent)
    assert client.get(url).status_code == 200  # view only
    assert client.post(url, {"auto_close_after_hours": 1, "reopen_window_days": 1}).status_code == 403


def test_clock_list_is_read_only(console, incident):
    html = console.get("/admin/incidents/slaclock/").content.decode()
    assert incident.number in html
    assert "Respond in 1 h" in html
    assert console.get("/admin/incidents/slaclock/add/").status_code == 403
    html = console.get(f"/admin/incidents/slaclock/?q={int(incident.number[3:])}").content.decode()
    assert incident.number in html


# --- scale: query counts and counting -------------------------------------------------------------------
def _changelist_queries(client, query: str = "") -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(CHANGELIST + query)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


@pytest.mark.parametrize("query", ["", "?queue=my_work", "?sla=due_1h", "?q=incident"])
def test_changelist_queries_do_not_grow_with_incidents(console, agent, service, sla_policies, query, monkeypatch):
    # Three rows a page, so both lists are full pages (a short page skips its count: see below).
    monkeypatch.setattr(IncidentAdmin, "list_per_page", 3)
    for _ in range(5):
        IncidentFactory(actor=agent, service=service)
    services.run_transition(Incident.objects.first(), "start", actor=agent)
    few, _ = _changelist_queries(console, query)
    for n in range(25):
        incident = IncidentFactory(actor=agent, service=service)
        if n % 3 == 0:
            services.assign(incident, actor=agent, assignee=agent)
    many, html = _changelist_queries(console, query)
    assert many == few, f"{few} queries for 5 incidents, {many} for 30"


def test_changelist_query_budget(console, agent, service, sla_policies, django_assert_max_num_queries):
    for _ in range(30):
        IncidentFactory(actor=agent, service=service)
    with django_assert_max_num_queries(20):
        assert console.get(CHANGELIST).status_code == 200


def test_paginator_counts_at_most_the_cap(agent, service, monkeypatch):
    for _ in range(7):
        IncidentFactory(actor=agent, service=service)
    monkeypatch.setattr(LargeTablePaginator, "cap", 5)
    paginator = LargeTablePaginator(Incident.objects.filter(state="new").order_by("-id"), 2)
    with CaptureQueriesContext(connection) as ctx:
        assert paginator.count == 5
    assert "LIMIT 6" in ctx.captured_queries[0]["sql"]
    assert paginator.num_pages == 3
    assert paginator.count_label.startswith("more than 5 incidents")
    exact = LargeTablePaginator(Incident.objects.filter(title="nothing"), 2)
    assert (exact.count, exact.count_label) == (0, "0 incidents")


def test_estimate_is_used_only_on_postgresql(agent, service):
    estimate = estimated_rows(Incident)
    if connection.vendor == "postgresql":
        assert estimate is None or estimate >= 0
    else:
        assert estimate is None


def test_changelist_never_counts_the_whole_table(console, agent, service):
    for _ in range(30):  # more than a page of 25
        IncidentFactory(actor=agent, service=service)
    with CaptureQueriesContext(connection) as ctx:
        console.get(CHANGELIST)
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1, counts
    assert "LIMIT 1001" in counts[0]  # capped, never a COUNT(*) of the table


def test_a_short_page_is_not_counted(console, agent, service):
    few = [IncidentFactory(actor=agent, service=service) for _ in range(3)]
    with CaptureQueriesContext(connection) as ctx:
        html = console.get(CHANGELIST).content.decode()
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert all(i.number in html for i in few)
    assert "3 incidents" in html
    # and a search that finds nothing scans once, without a count
    with CaptureQueriesContext(connection) as ctx:
        console.get(CHANGELIST + "?q=nothing-matches-this")
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]


def test_paging_reads_the_right_rows(console, agent, service):
    made = [IncidentFactory(actor=agent, service=service) for _ in range(30)]
    first = console.get(CHANGELIST).content.decode()
    assert made[-1].number in first and made[5].number in first and made[4].number not in first  # newest 25
    with CaptureQueriesContext(connection) as ctx:
        second = console.get(CHANGELIST + "?p=2").content.decode()
    assert all(i.number in second for i in made[:5]) and made[5].number not in second
    assert "30 incidents" in second
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]  # a short last page
    assert console.get(CHANGELIST + "?p=9").status_code == 302  # beyond the end: Django's ?e=1


# --- the SLA summary ---------------------------------------------------------------------------------
def test_sla_summary_colours(agent, service, sla_policies):
    now = timezone.now()
    ok = IncidentFactory(actor=agent, service=service, state=S.IN_PROGRESS)
    warning = IncidentFactory(actor=agent, service=service, opened_at=now - timedelta(hours=5))
    services.run_transition(warning, "start", actor=agent)  # resolution at 5/8 = 62% >= 50%
    breached = IncidentFactory(actor=agent, service=service, opened_at=now - timedelta(hours=2))
    paused = IncidentFactory(actor=agent, service=service, state=S.ON_HOLD)

    def summary(incident):
        return sla_summary(SlaClock.objects.filter(incident=incident).select_related("policy"), now)

    assert summary(ok).status == "ok"
    assert summary(warning).status == "warning"
    assert summary(breached).status == "breached"
    assert summary(paused).status == "paused"
    assert summary(IncidentFactory(actor=agent, service=service, state=S.RESOLVED)) is None


def test_services_and_groups_have_autocomplete(console, incident):
    ServiceFactory(name="Payroll")
    url = reverse("admin:autocomplete")
    for field in ("service", "assignment_group", "assignee", "caller", "parent", "category"):
        response = console.get(
            url, {"app_label": "incidents", "model_name": "incident", "field_name": field, "term": ""}
        )
        assert response.status_code == 200, field
