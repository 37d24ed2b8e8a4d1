"""What the incident practice registers with the apps to its left.

With `communications`: its event types (incidents, SLA clocks, major incidents), their shipped
templates (`incidents/templates/incidents/notifications/`), sample records for template previews
and the default notification rules. With `itsm.roles`: the role permissions on its models
(object-level rules: `incidents.policy`). Called once from `IncidentsConfig.ready()`.

Sample contexts document the shape the shipped templates read (callers of `emit()` hand the
same keys; every template tolerates a missing key):

- incident.*: `incident` {id, number, title, description, state, priority, impact, urgency,
  channel, service (slug), service_name, assignment_group (id), assignment_group_name,
  assignee (id), assignee_name, caller_name, hold_reason, resolution_code, resolution_notes,
  opened_at, resolved_at, url}
- incident.state_changed: `transition` (name) and `from` (the previous state)
- incident.commented: `comment` {id, body, visibility}
- sla.*: `sla` {policy (id), policy_name, kind, percent, due_at, breached_at} and `incident`
- major_incident.*: `major_incident` {id, number, title, state, incident, priority,
  impact_summary, customers_affected, bridge_url, chat_channel, manager, comms_lead, tech_lead,
  affected_services (slugs), affected_service_names, declared_at, resolved_at,
  next_update_due_at, url}; templates show the bridge, chat and staff names only when not
  `public`. Per event: proposed `reason`; rejected `rejection_reason`; paged `responder`
  {id, user, name, role, assignment_group, page_count, max_pages, paged_at, last_paged_at,
  acknowledge_url} (the link in email only, never in chat); page_unanswered `responders` [the
  same without the link], `unanswered_names`; update_posted `update` {id, audience, status,
  body, posted_at, next_update_due_at; internal only: author, due_at, late_seconds, on_time};
  update_overdue `reminder` {due_at, period_started_at, period, overdue_minutes,
  cadence_minutes}; resolved `resolution_notes`; closed `root_cause`, `lessons_learned`;
  action_item_overdue `action_item` {id, title, owner (name), due_date, days_overdue}.
  `nobody_named` (page_unanswered, update_overdue): the record names no one to tell, so the
  default rule tells the Major Incident Managers.
- task.* (about the incident or major incident the task is on: `incident` or `major_incident`
  as above): `task` {id, title, description, state, blocking, due_at, assignee (id),
  assignee_name, assignment_group (id), assignment_group_name, reminder_count}; overdue adds
  `reminder` {due_at, period, overdue_minutes, period_minutes}
- every event: `actor` {id, name} when a person caused it
"""

from communications import registry
from communications.subject import Subject
from itsm import roles

EVENT_TYPES: dict[str, str] = {
    "incident.created": "Incident created",
    "incident.assigned": "Incident assigned",
    "incident.state_changed": "Incident state changed",
    "incident.commented": "Incident commented",
    "sla.warning": "SLA warning",
    "sla.breached": "SLA breached",
}
MAJOR_INCIDENT_EVENT_TYPES: dict[str, str] = {
    "major_incident.proposed": "Major incident proposed",
    "major_incident.declared": "Major incident declared",
    "major_incident.rejected": "Major incident proposal rejected",
    "major_incident.paged": "Responder paged",
    "major_incident.page_unanswered": "Responder never answered the page",
    "major_incident.update_posted": "Major incident update posted",
    "major_incident.update_overdue": "Major incident update overdue",
    "major_incident.resolved": "Major incident resolved",
    "major_incident.closed": "Major incident closed",
    "major_incident.action_item_overdue": "Review action item overdue",
}
TASK_EVENT_TYPES: dict[str, str] = {
    "task.assigned": "Task assigned",
    "task.overdue": "Task overdue",
}
TEMPLATES = "incidents/notifications"

DEFAULT_RULES: dict[str, dict] = {
    "New incident: tell the assignment group": {
        "events": ["incident.created"],
        "recipients": ["group"],
        "description": "The group's mailbox if it has one, else its members.",
    },
    "Incident assigned: tell the assignee (or the group)": {
        "events": ["incident.assigned"],
        "recipients": ["assignee_or_group"],
        "description": "Assigned to a person: that person; to a group only: the group.",
    },
    "Incident resolved: tell the caller": {
        "events": ["incident.state_changed"],
        "recipients": ["caller"],
        "conditions": {"incident.state": ["resolved"]},
        "description": "Sent when the incident's state becomes resolved.",
    },
    "Public comment: tell the caller": {
        "events": ["incident.commented"],
        "recipients": ["caller"],
        "description": "Internal work notes never reach the caller.",
    },
    "Watchers follow public changes": {
        "events": ["incident.state_changed", "incident.commented"],
        "recipients": ["watchers"],
        "description": "Work notes reach watchers who are console users only.",
    },
    "SLA warning: tell the assignee": {
        "events": ["sla.warning"],
        "recipients": ["assignee_or_group"],
        "description": "Unassigned incidents warn the group instead.",
    },
    "SLA breached: tell the assignee and the group manager": {
        "events": ["sla.breached"],
        "recipients": ["assignee_or_group", "group_manager"],
    },
    "Major incident proposed: page the Major Incident Managers": {
        "events": ["major_incident.proposed"],
        "roles": [roles.MAJOR_INCIDENT_MANAGER],
        "recipients": ["group_manager"],
    },
    # The other major incident events name their recipients (the paged person, the manager, the
    # communications lead, the proposer, an action item's owner); these two catch a record that
    # names no one to tell.
    "Major incident with no one named: tell the Major Incident Managers": {
        "events": ["major_incident.update_overdue", "major_incident.page_unanswered"],
        "roles": [roles.MAJOR_INCIDENT_MANAGER],
        "conditions": {"nobody_named": ["true"]},
        "description": "Overdue updates and unanswered pages of a record without a manager or communications lead.",
    },
    "Major incident: keep managers and stakeholders informed": {
        "events": [
            "major_incident.declared",
            "major_incident.update_posted",
            "major_incident.resolved",
            "major_incident.closed",
        ],
        "recipients": ["group_manager", "stakeholders", "watchers"],
        "roles": [roles.MAJOR_INCIDENT_MANAGER],
        "description": "Internal updates reach console users only; external stakeholders get public updates.",
    },
}

# Role permissions on the incident models.
_WORK = {
    "incidents.incident": ["view", "add", "change"],
    "incidents.comment": ["view", "add"],
    "incidents.timelineevent": ["view"],
    "incidents.incidentsettings": ["view"],
    "incidents.slaclock": ["view"],
}
_READ = {
    "incidents.incident": ["view"],
    "incidents.comment": ["view"],
    "incidents.timelineevent": ["view"],
    "incidents.slaclock": ["view"],
}
# Alert and email intake (migration 0003 granted the same when the models were added).
_ALERT_READ = {
    "incidents.alertroute": ["view"],
    "incidents.incidentalert": ["view"],
    "incidents.inboundmessage": ["view"],
}
# Major incidents: everyone with a console role reads them and may propose one; the people
# named on a record take part (incidents.major.policy decides per record); MIMs run them.
_MAJOR_READ = {
    "incidents.majorincident": ["view"],
    "incidents.responder": ["view"],
    "incidents.stakeholderupdate": ["view"],
    "incidents.postincidentreview": ["view"],
    "incidents.actionitem": ["view"],
    "incidents.majorincidentevent": ["view"],
}
_MAJOR_TAKE_PART = {
    "incidents.majorincident": ["view", "add", "change"],
    "incidents.responder": ["view", "change"],
    "incidents.stakeholderupdate": ["view", "add"],
    "incidents.postincidentreview": ["view", "change"],
    "incidents.actionitem": ["view", "change"],
    "incidents.majorincidentevent": ["view"],
}
_MAJOR_RUN = {
    "incidents.majorincident": ["view", "add", "change"],
    "incidents.responder": ["view", "add", "change"],
    "incidents.stakeholderupdate": ["view", "add"],
    "incidents.postincidentreview": ["view", "add", "change"],
    "incidents.actionitem": ["view", "add", "change"],
    "incidents.majorincidentevent": ["view"],
    "incidents.majorincidentsettings": ["view"],
}
# Tasks: whoever works the record keeps its task list; response plans and trigger rules are
# configuration (administrators; MIMs read them and see the rules' firings).
_TASKS = {"incidents.task": ["view", "add", "change"]}
_RESPONSE_READ = {
    "incidents.responseplan": ["view"],
    "incidents.plantask": ["view"],
    "incidents.responseplanversion": ["view"],
    "incidents.triggerrule": ["view"],
    "incidents.triggerfiring": ["view"],
}
_RESPONSE_CONFIGURE = {
    "incidents.responseplan": ["view", "add", "change", "delete"],
    "incidents.plantask": ["view", "add", "change", "delete"],
    "incidents.responseplanversion": ["view"],
    "incidents.triggerrule": ["view", "add", "change", "delete"],
    "incidents.triggerfiring": ["view"],
}
ROLE_PERMISSIONS: dict[str, list[dict[str, list[str]]]] = {
    roles.SERVICE_DESK_AGENT: [_WORK, _ALERT_READ, _MAJOR_TAKE_PART, _TASKS],
    roles.RESOLVER: [_WORK, _ALERT_READ, _MAJOR_TAKE_PART, _TASKS],
    roles.MAJOR_INCIDENT_MANAGER: [_WORK, _ALERT_READ, _MAJOR_RUN, _TASKS, _RESPONSE_READ],
    roles.PROBLEM_MANAGER: [_WORK, _ALERT_READ, _MAJOR_TAKE_PART, _TASKS],
    roles.INTEGRATION: [_WORK],
    roles.ADMINISTRATOR: [
        _WORK,
        _MAJOR_RUN,
        {"incidents.majorincidentsettings": ["view", "change"]},
        {"incidents.incidentsettings": ["view", "change"]},
        _ALERT_READ,
        {"incidents.alertroute": ["view", "add", "change", "delete"]},
        _TASKS,
        _RESPONSE_CONFIGURE,
    ],
    roles.READ_ONLY: [_READ, _ALERT_READ, _MAJOR_READ, {"incidents.task": ["view"]}, _RESPONSE_READ],
}


# --- sample records ------------------------------------------------------------------------------

BASE_URL = "https://itsm.example.com/admin"
INCIDENT = {
    "id": 123,
    "number": "INC0000123",
    "title": "VPN drops every few minutes",
    "description": "Users in Berlin lose the VPN connection every 5-10 minutes since 09:00.",
    "state": "in_progress",
    "priority": 2,
    "impact": 2,
    "urgency": 1,
    "channel": "portal",
    "service": "vpn",
    "service_name": "VPN",
    "assignment_group": 2,
    "assignment_group_name": "Network Team",
    "assignee": 3,
    "assignee_name": "Rita Resolver",
    "caller_name": "Carl Caller",
    "hold_reason": "",
    "resolution_code": "",
    "resolution_notes": "",
    "opened_at": "2026-11-22T09:12:00+00:00",
    "resolved_at": None,
    "url": "https://itsm.example.com/admin/incidents/incident/123/change/",
}
MAJOR_INCIDENT = {
    "id": 7,
    "number": "MIM0000007",
    "title": "Payroll unavailable",
    "state": "active",
    "incident": "INC0000123",
    "priority": 1,
    "impact_summary": "No one can submit or approve payroll runs.",
    "customers_affected": 1200,
    "bridge_url": "https://meet.example.com/payroll-bridge",
    "chat_channel": "#inc-payroll",
    "manager": "Maya Manager",
    "comms_lead": "Chris Comms",
    "tech_lead": "Tara Tech",
    "affected_services": ["payroll"],
    "affected_service_names": ["Payroll"],
    "declared_at": "2026-11-22T09:30:00+00:00",
    "resolved_at": None,
    "next_update_due_at": "2026-11-22T11:30:00+00:00",
    "url": f"{BASE_URL}/incidents/majorincident/7/change/",
}
RESPONDER = {
    "id": 4,
    "user": 5,
    "name": "Nora Network",
    "role": "network",
    "assignment_group": "Network Team",
    "page_count": 2,
    "max_pages": 3,
    "paged_at": "2026-11-22T09:35:00+00:00",
    "last_paged_at": "2026-11-22T09:40:00+00:00",
    "acknowledged_at": None,
}


def _incident_subject() -> Subject:
    return Subject(
        "incident",
        123,
        "INC0000123",
        INCIDENT["title"],
        f"{BASE_URL}/incident/123/",
        priority=2,
        caller_email="carl@example.com",
    )


def major_incident_sample(event: str) -> tuple[Subject, dict]:
    """A sample major incident with what `event` adds (the page, the update, the reminder...)."""
    subject = Subject("major_incident", 7, "MIM0000007", "Payroll unavailable", MAJOR_INCIDENT["url"], priority=1)
    context: dict = {"major_incident": dict(MAJOR_INCIDENT)}
    kind = event.removeprefix("major_incident.")
    if kind == "proposed":
        context["major_incident"]["state"] = "proposed"
        context["reason"] = "Payroll is down for every site two days before the monthly run."
    elif kind == "rejected":
        context["major_incident"]["state"] = "rejected"
        context["rejection_reason"] = "Only one site is affected; the Payroll team handles it as a P2."
    elif kind == "paged":
        context["responder"] = {
            **RESPONDER,
            "acknowledge_url": "https://itsm.example.com/major-incidents/acknowledge/x/",
        }
        context["acknowledge_url"] = context["responder"]["acknowledge_url"]
    elif kind == "page_unanswered":
        context["responders"] = [{**RESPONDER, "page_count": 3}]
        context["unanswered_names"] = RESPONDER["name"]
        context["nobody_named"] = False
    elif kind == "update_posted":
        context["update"] = {
            "id": 12,
            "status": "identified",
            "body": "The payroll database failed over; we are restoring the connection pool.",
            "audience": "external",
            "posted_at": "2026-11-22T11:00:00+00:00",
            "next_update_due_at": "2026-11-22T11:30:00+00:00",
            "author": "Chris Comms",
            "due_at": "2026-11-22T11:00:00+00:00",
            "late_seconds": 0,
            "on_time": True,
        }
    elif kind == "update_overdue":
        context["reminder"] = {
            "due_at": "2026-11-22T11:30:00+00:00",
            "period_started_at": "2026-11-22T11:30:00+00:00",
            "period": 1,
            "overdue_minutes": 4,
            "cadence_minutes": 30,
        }
        context["nobody_named"] = False
    elif kind == "resolved":
        context["major_incident"].update(state="resolved", resolved_at="2026-11-22T12:10:00+00:00")
        context["resolution_notes"] = "Connection pool restored; payroll runs complete again."
    elif kind == "closed":
        context["major_incident"].update(state="closed", resolved_at="2026-11-22T12:10:00+00:00")
        context["root_cause"] = "A certificate on the database proxy expired."
        context["lessons_learned"] = "Monitor certificate expiry on every proxy."
    elif kind == "action_item_overdue":
        context["major_incident"].update(state="closed", resolved_at="2026-11-22T12:10:00+00:00")
        context["action_item"] = {
            "id": 3,
            "title": "Alert 30 days before a certificate expires",
            "owner": "Tara Tech",
            "due_date": "2026-12-01",
            "days_overdue": 2,
        }
    return subject, context


def incident_sample(event: str) -> tuple[Subject, dict]:
    """A sample incident with what `event` adds (the transition, the comment, the SLA clock)."""
    context: dict = {"incident": dict(INCIDENT)}
    if event == "incident.state_changed":
        context["incident"].update(
            state="resolved",
            resolution_code="fixed",
            resolution_notes="Replaced the faulty concentrator line card.",
            resolved_at="2026-11-22T10:00:00+00:00",
        )
        context.update(transition="resolve", **{"from": "in_progress"})
    elif event == "incident.commented":
        context["comment"] = {"id": 9, "body": "We are on it.", "visibility": "public"}
    elif event.startswith("sla."):
        breached = event.endswith("breached")
        context["sla"] = {
            "policy": 4,
            "policy_name": "P2 resolution",
            "kind": "resolution",
            "percent": 100 if breached else 75,
            "due_at": "2026-11-22T17:00:00+00:00",
            "breached_at": "2026-11-22T17:00:00+00:00" if breached else None,
        }
    return _incident_subject(), context


TASK = {
    "id": 5,
    "title": "Fail the payroll database over to the standby",
    "description": "Follow the runbook; tell the bridge when done.",
    "state": "open",
    "blocking": True,
    "due_at": "2026-11-22T10:30:00+00:00",
    "assignee": 4,
    "assignee_name": "Tara Tech",
    "assignment_group": 2,
    "assignment_group_name": "Database Team",
    "reminder_count": 0,
}


def task_sample(event: str) -> tuple[Subject, dict]:
    """A sample task on a major incident with what `event` adds (the overdue reminder)."""
    subject, context = major_incident_sample("major_incident.declared")
    context["task"] = dict(TASK)
    if event == "task.overdue":
        context["task"]["reminder_count"] = 1
        context["reminder"] = {
            "due_at": TASK["due_at"],
            "period": 1,
            "overdue_minutes": 5,
            "period_minutes": 60,
        }
    return subject, context


def register() -> None:
    """Register everything above (idempotent)."""
    registry.register_event_types(*EVENT_TYPES, "incident.hold_reminder", labels=EVENT_TYPES, subject_kind="incident")
    registry.register_event_types(
        *MAJOR_INCIDENT_EVENT_TYPES, labels=MAJOR_INCIDENT_EVENT_TYPES, subject_kind="major_incident"
    )
    # A page is internal (bridge, acknowledge link) but goes to every endpoint that listens to it.
    registry.register_event_types("major_incident.paged", for_listeners=True)
    registry.register_event_types(*TASK_EVENT_TYPES, labels=TASK_EVENT_TYPES)
    registry.register_templates(TEMPLATES, "incident.*", "sla.*", "major_incident.*", "task.*")
    registry.register_samples(incident_sample, "incident.*", "sla.*")
    registry.register_samples(major_incident_sample, "major_incident.*")
    registry.register_samples(task_sample, "task.*")
    registry.register_default_rules(DEFAULT_RULES)
    for role, grants in ROLE_PERMISSIONS.items():
        for permissions in grants:
            roles.register_permissions(role, permissions)
