from django.db import migrations

from itsm.numbering import create_sequences


class Migration(migrations.Migration):
    dependencies = [("itsm", "0003_number_counter")]

    operations = [migrations.RunPython(create_sequences, migrations.RunPython.noop)]
