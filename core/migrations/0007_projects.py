"""Projects and memberships. An upgraded database keeps behaving as before: every existing item
goes into one project, LAB, and every active user becomes its member (staff as managers, who
write, the others as viewers, who read)."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def into_default_project(apps, schema_editor):
    Project = apps.get_model("lims", "Project")
    Membership = apps.get_model("lims", "Membership")
    Item = apps.get_model("lims", "Item")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    lab, _ = Project.objects.get_or_create(
        code="LAB", defaults={"name": "Lab", "description": "The lab's records before projects."}
    )
    Item.objects.filter(project__isnull=True).update(project=lab)
    Membership.objects.bulk_create(
        [
            Membership(project=lab, user=user, role="manager" if user.is_staff else "viewer")
            for user in User.objects.filter(is_active=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("lims", "0006_job_outbox"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Project",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "code",
                    models.SlugField(
                        help_text="short name in URLs and the API (letters, digits, dashes)",
                        max_length=20,
                        unique=True,
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("description",
                    models.TextField(
                        blank=True,
                        max_length=2000,
                        validators=[django.core.validators.MaxLengthValidator(2000)],
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={"ordering": ["code"]},
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("viewer", "Viewer"),
                            ("member", "Member"),
                            ("manager", "Manager"),
                        ],
                        default="viewer",
                        max_length=10,
                    ),
                ),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="lims.project",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["project__code", "user__username"],
                "constraints": [
                    models.UniqueConstraint(fields=("project", "user"), name="membership_unique")
                ],
            },
        ),
        migrations.AddField(
            model_name="item",
            name="project",
            field=models.ForeignKey(
                null=True,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="items",
                to="lims.project",
            ),
        ),
        migrations.RunPython(into_default_project, migrations.RunPython.noop),
    ]
