"""`manage.py backup DIR [--with-objects] [--allow-damaged]`: see lims/backup.py."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from lims import backup


class Command(BaseCommand):
    help = (
        "Write a backup: database dump, manifest of every stored object (key, size, SHA-256, "
        "checked while read) and, with --with-objects, a copy of the objects. Exits 1 when an "
        "object is damaged or missing, unless --allow-damaged."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="a new (or empty) directory")
        parser.add_argument("--with-objects", action="store_true", help="copy the objects too")
        parser.add_argument(
            "--allow-damaged",
            action="store_true",
            help="exit 0 although objects are damaged or missing (they are still reported)",
        )

    def handle(self, *args, **options):
        directory = options["directory"]
        try:
            manifest = backup.backup(
                directory, with_objects=options["with_objects"], progress=self.stdout.write
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        problems = backup.backup_problems(manifest)
        for p in problems:
            self.stdout.write(str(p))
        entries = manifest["objects"]
        copied = sum(e["copied"] for e in entries)
        self.stdout.write(
            f"Backup in {directory}: database {manifest['database']['size']} bytes, "
            f"{len(entries)} objects ({len(entries) - len(problems)} ok, {len(problems)} "
            f"damaged or missing, {copied} copied)."
        )
        if problems and not options["allow_damaged"]:
            raise CommandError(
                f"{len(problems)} object(s) damaged or missing (listed in manifest.json); "
                "upload the original files again and back up anew, or pass --allow-damaged",
                returncode=1,
            )
