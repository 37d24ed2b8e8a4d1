"""Sample records for template previews and template validation.

They also document the context shape the shipped templates read (callers of `emit()` should
hand the same keys; every template tolerates a missing key):

- incident.*: `incident` {id, number, title, description, state, priority, impact, urgency,
  channel, service (slug), service_name, assignment_group (id), assignment_group_name,
  assignee (id), assignee_name, caller_name, hold_reason, resolution_code, resolution_notes,
  opened_at, resolved_at, url}
- incident.state_changed: `transition` (name) and `from` (the previous state)
- incident.commented: `comment` {id, body, visibility}
- sla.*: `sla` {policy (id), policy_name, kind, percent, due_at, breached_at} and `incident`
- major_incident.*: `major_incident` {number, title, state, impact_summary, customers_affected,
  bridge_url, chat_channel, manager, affected_services, next_update_due_at}; update_posted:
  `update` {status, body, audience, next_update_due_at, author}
- problem.*: `problem` {number, title, state, root_cause, workaround, fix}
- every event: `actor` {id, name} when a person caused it
"""

from . import registry
from .subject import Subject

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
    "number": "MAJ0000007",
    "title": "Payroll unavailable",
    "state": "declared",
    "impact_summary": "No one can submit or approve payroll runs.",
    "customers_affected": 1200,
    "bridge_url": "https://meet.example.com/payroll-bridge",
    "chat_channel": "#inc-payroll",
    "manager": "Maya Manager",
    "affected_services": ["payroll"],
    "next_update_due_at": "2026-11-22T11:30:00Z",
}
PROBLEM = {
    "number": "PRB0000042",
    "title": "VPN concentrator drops sessions under load",
    "state": "known_error",
    "root_cause": "Session table exhaustion on the concentrator.",
    "workaround": "Reconnect; the client retries on a second concentrator.",
    "fix": "",
}


def _subject(kind: str) -> Subject:
    base = "https://itsm.example.com/admin"
    if kind == "major_incident":
        return Subject("major_incident", 7, "MAJ0000007", "Payroll unavailable", f"{base}/mi/7/", priority=1)
    if kind == "problem":
        return Subject("problem", 42, "PRB0000042", PROBLEM["title"], f"{base}/problem/42/", priority=3)
    if kind == "webhook":
        return Subject("webhook", 1, "WH1", "Test event", f"{base}/webhooks/1/")
    return Subject(
        "incident",
        123,
        "INC0000123",
        INCIDENT["title"],
        f"{base}/incident/123/",
        priority=2,
        caller_email="carl@example.com",
    )


def sample(event: str) -> tuple[Subject, dict]:
    """A plausible subject and context for `event` (any registered type)."""
    area = event.split(".", 1)[0]
    if event == registry.DIGEST:
        items = [
            {
                "event": "incident.created",
                "event_label": "Incident created",
                "number": f"INC00001{n:02d}",
                "title": f"Disk full on db-{n}",
                "message_subject": f"[INC00001{n:02d}] Incident created: Disk full on db-{n}",
                "url": f"https://itsm.example.com/admin/incident/{100 + n}/",
                "occurred_at": "2026-11-22T10:00:00Z",
            }
            for n in range(3)
        ]
        return _subject("incident"), {"items": items, "count": len(items), "window_minutes": 5}
    if event == registry.WEBHOOK_TEST:
        return _subject("webhook"), {"endpoint": {"id": 1, "description": "Example"}, "message": "Test event"}
    if area == "major_incident":
        context = {"major_incident": dict(MAJOR_INCIDENT)}
        if event.endswith("update_posted"):
            context["update"] = {
                "status": "identified",
                "body": "The payroll database failed over; we are restoring the connection pool.",
                "audience": "external",
                "next_update_due_at": "2026-11-22T11:30:00Z",
                "author": "Maya Manager",
            }
        return _subject("major_incident"), context
    if area == "problem":
        return _subject("problem"), {"problem": dict(PROBLEM)}
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
    elif area == "sla":
        breached = event.endswith("breached")
        context["sla"] = {
            "policy": 4,
            "policy_name": "P2 resolution",
            "kind": "resolution",
            "percent": 100 if breached else 75,
            "due_at": "2026-11-22T17:00:00+00:00",
            "breached_at": "2026-11-22T17:00:00+00:00" if breached else None,
        }
    return _subject("incident"), context
