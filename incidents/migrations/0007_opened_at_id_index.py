"""(opened_at, id) instead of (opened_at): date-bounded lists ordered by opened_at with the id as
tie-breaker walk one index without a sort; range filters on opened_at use it as before.
The new index is built before the old one goes, so no query is left without one."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_sla_lease"),
        ("itsm", "0005_sla_policy_validators"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["opened_at", "id"], name="incident_opened_at_id"),
        ),
        migrations.RemoveIndex(
            model_name="incident",
            name="incident_opened_at",
        ),
    ]
