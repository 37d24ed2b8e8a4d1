"""Data: the default notification rules and the role permissions on this app's models."""

from django.db import migrations

from communications.defaults import load_default_rules
from communications.permissions import grant


def load(apps, schema_editor):
    load_default_rules(apps, schema_editor)
    grant(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("communications", "0001_initial"),
        ("itsm", "0002_roles_matrix_calendar"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
