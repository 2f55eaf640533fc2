"""Create the database cache's table (the ``throttle`` cache of the db and dynamodb settings).

``migrate`` is the one step every deployment runs (the image's entry point, the harness, the
test database), so the table comes with it; ``manage.py createcachetable`` does the same by
hand. Settings whose caches are all elsewhere (the Redis engines') create nothing.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
