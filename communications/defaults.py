"""The rule set a service desk expects out of the box (loaded by migration 0002).

Each entry: name -> fields of a `NotificationRule` (email channel). Administrators change or
deactivate them in the admin; the migration only creates missing ones.
"""

from itsm import roles

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
    "Problem: known error and resolution to the group": {
        "events": ["problem.known_error", "problem.resolved"],
        "recipients": ["group", "watchers"],
    },
}


def load_default_rules(apps, schema_editor=None) -> None:
    """Create the default rules that do not exist yet (by name)."""
    Rule = apps.get_model("communications", "NotificationRule")
    for name, fields in DEFAULT_RULES.items():
        Rule.objects.get_or_create(name=name, defaults={"channel": "email", **fields})
