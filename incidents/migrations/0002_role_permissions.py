"""Grant the roles their permissions on the incident models (itsm.roles declares them)."""

from django.db import migrations

from itsm.roles import sync_role_permissions

MODELS = ["incidents.incident", "incidents.comment", "incidents.timelineevent", "incidents.incidentsettings",
          "incidents.slaclock"]


def grant(apps, schema_editor):
    sync_role_permissions(apps, schema_editor, models=MODELS)
    apps.get_model("incidents", "IncidentSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial"), ("itsm", "0004_number_sequences")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
