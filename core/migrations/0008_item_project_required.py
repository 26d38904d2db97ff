"""Every item has a project (0007 filled it in; a migration of its own, so that PostgreSQL
does not alter the table in the transaction that updated its rows: "pending trigger events")."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lims", "0007_projects")]

    operations = [
        migrations.AlterField(
            model_name="item",
            name="project",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="items",
                to="lims.project",
            ),
        ),
    ]
