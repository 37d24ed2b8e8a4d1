"""Data: the seven role groups with their permissions, the ITIL priority matrix, the 24x7 calendar."""

from django.db import migrations

from itsm.roles import sync_role_permissions

ITIL_MATRIX = {
    (1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3, (2, 3): 4, (3, 2): 4, (3, 3): 5,
}


def load(apps, schema_editor):
    sync_role_permissions(apps, schema_editor)
    Entry = apps.get_model("itsm", "PriorityMatrixEntry")
    for (impact, urgency), priority in ITIL_MATRIX.items():
        Entry.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})
    Calendar = apps.get_model("itsm", "BusinessCalendar")
    Period = apps.get_model("itsm", "WorkingPeriod")
    calendar, created = Calendar.objects.get_or_create(
        name="24x7", defaults={"timezone": "UTC", "description": "Every minute of every day."}
    )
    if created:
        Period.objects.bulk_create(
            Period(calendar=calendar, weekday=day, start_minute=0, end_minute=1440) for day in range(7)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("itsm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
