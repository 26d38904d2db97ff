"""`manage.py restore DIR [--force]`: see lims/backup.py."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lims import backup


class Command(BaseCommand):
    help = (
        "Restore a backup into an empty database and the configured store: load the dump, put "
        "back the copied objects, check every object of the manifest in the store. Exits 1 "
        "when an object is missing or mismatched."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="a directory written by `backup`")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore into a database that holds rows: everything in it is replaced",
        )

    def handle(self, *args, **options):
        try:
            manifest, problems = backup.restore(
                options["directory"], force=options["force"], progress=self.stdout.write
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        for p in problems:
            self.stdout.write(str(p))
        total = len(manifest["objects"])
        self.stdout.write(
            f"Restored the database from {manifest['created_at']}; "
            f"{total - len(problems)} of {total} objects verified in the store."
        )
        if problems:
            raise CommandError(
                f"{len(problems)} object(s) missing or mismatched in the store", returncode=1
            )
