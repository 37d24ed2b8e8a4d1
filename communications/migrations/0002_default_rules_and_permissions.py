"""Data: the default notification rules and the role permissions on this app's models.

The rules are the historical defaults, frozen here: since then each practice registers its own
(`communications.registry.register_default_rules`), installed after `migrate` by
`communications.defaults.install_default_rules`; 0004 records these as installed.
"""

from django.db import migrations

from communications.permissions import grant

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
        "roles": ["Major Incident Manager"],
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
        "roles": ["Major Incident Manager"],
        "description": "Internal updates reach console users only; external stakeholders get public updates.",
    },
    "Problem: known error and resolution to the group": {
        "events": ["problem.known_error", "problem.resolved"],
        "recipients": ["group", "watchers"],
    },
}


def load(apps, schema_editor):
    Rule = apps.get_model("communications", "NotificationRule")
    for name, fields in DEFAULT_RULES.items():
        Rule.objects.get_or_create(name=name, defaults={"channel": "email", **fields})
    grant(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0001_initial"),
        ("itsm", "0002_roles_matrix_calendar"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
