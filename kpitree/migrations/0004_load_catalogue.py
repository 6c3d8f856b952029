"""Loads the built-in template catalogue (kpitree/catalogue_data.py) into a fresh database.

Later versions of the built-in data reach existing databases through `manage.py load_catalogue`.
"""

from django.db import migrations


def load(apps, schema_editor):
    from kpitree import catalogue_data

    catalogue_data.sync(
        apps.get_model("kpitree", "KpiTemplate"),
        apps.get_model("kpitree", "TreeTemplate"),
        apps.get_model("kpitree", "TemplateNode"),
    )


class Migration(migrations.Migration):

    dependencies = [
        ("kpitree", "0003_catalogue"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
