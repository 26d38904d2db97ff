"""Re-hash every stored raw file: the store names each by its SHA-256, so a file whose bytes
hash to something else (a flipped bit, a half-restored backup) or that is gone is found here
before a re-parse or a download trips over it. Meant for cron: non-zero exit on any problem."""

from __future__ import annotations

import json
import time

from django.core.management.base import BaseCommand, CommandError

from measurements import selectors
from measurements.models import RawFile


class Command(BaseCommand):
    help = "Re-hash every stored raw file; report each damaged or missing one (exit 1 if any)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object for scripts")

    def handle(self, *args, **options):
        started = time.monotonic()
        checked = RawFile.objects.count()
        problems = list(selectors.fixity_problems())
        seconds = round(time.monotonic() - started, 3)
        damaged = sum(p.actual is not None for p in problems)
        missing = len(problems) - damaged
        if options["json"]:
            report = {
                "checked": checked,
                "ok": checked - len(problems),
                "damaged": damaged,
                "missing": missing,
                "seconds": seconds,
                "problems": [
                    {
                        "state": "missing" if p.actual is None else "damaged",
                        "sha256": p.sha256,
                        "actual_sha256": p.actual,
                        "path": p.path,
                        "measurements": p.measurements,
                    }
                    for p in problems
                ],
            }
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for p in problems:
                state = "MISSING" if p.actual is None else "DAMAGED"
                self.stdout.write(
                    f"{state} {p.path}\n"
                    f"  expected sha256 {p.sha256}\n"
                    f"  actual   sha256 {p.actual or '(no file)'}\n"
                    f"  used by {', '.join(p.measurements) or '(no measurement)'}"
                )
            self.stdout.write(
                f"Checked {checked} raw files in {seconds:.1f} s: "
                f"{checked - len(problems)} ok, {damaged} damaged, {missing} missing."
            )
        if problems:
            # Re-uploading the original bytes repairs an object (and re-runs what failed on it).
            raise CommandError(f"{len(problems)} raw file(s) failed the fixity check", returncode=1)
