from django.conf import settings
from django.core.management.base import BaseCommand

from demo import records as demo


class Command(BaseCommand):
    help = "Load the paper's study as demo data and create the demo logins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="demo-lims")
        parser.add_argument(
            "--no-measurements", action="store_true", help="skip the generated instrument files"
        )

    def handle(self, *args, password, **options):
        # -v 0: silent (`make run` prints its own banner with the logins).
        quiet = options["verbosity"] == 0

        def say(text):
            if not quiet:
                self.stdout.write(text)

        user, _ = demo.ensure_users(password)
        if demo.demo_loaded():
            say("Demo data already loaded.")
        else:
            records = demo.load_demo(user)
            if not options["no_measurements"]:
                folder = settings.VAR_DIR / "demo-files"
                made = demo.load_demo_measurements(user, records, folder)
                say(
                    f"Queued {len(made)} demo measurements (files in {folder}); "
                    "the worker computes their results."
                )
            say(
                f"Loaded demo study: batch {records['batch'].code}, "
                f"full cell {records['full_spe'].code} ({records['full_spe'].notation})."
            )
        say(
            self.style.SUCCESS(
                f"Log in as 'demo' / '{password}' (staff) or 'viewer' / '{password}' (read-only)."
            )
        )
