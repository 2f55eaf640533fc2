from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("session_engines", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="session",
            name="version",
            field=models.PositiveBigIntegerField(default=1, verbose_name="version"),
        ),
    ]
