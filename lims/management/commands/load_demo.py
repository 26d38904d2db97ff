from django.conf import settings
from django.core.management.base import BaseCommand

from lims import demo


class Command(BaseCommand):
    help = "Load the paper's study as demo data and create the demo logins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-lims")
        parser.add_argument(
            "--no-measurements", action="store_true", help="skip the generated instrument files"
        )

    def handle(self, *args, password, **options):
        user, _ = demo.ensure_users(password)
        if demo.demo_loaded():
            self.stdout.write("Demo data already loaded.")
        else:
            records = demo.load_demo(user)
            if not options["no_measurements"]:
                folder = settings.VAR_DIR / "demo-files"
                made = demo.load_demo_measurements(user, records, folder)
                self.stdout.write(
                    f"Queued {len(made)} demo measurements (files in {folder}); "
                    "the worker computes their results."
                )
            self.stdout.write(
                f"Loaded demo study: batch {records['batch'].code}, "
                f"full cell {records['full_spe'].code} ({records['full_spe'].notation})."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Log in as 'demo' / '{password}' (staff) or 'viewer' / '{password}' (read-only)."
            )
        )
