from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared core: item registry, codes, lineage, process steps, audit, shared validators
    and the generic record views and API plumbing every app builds on. It imports no app.

    Its label stays "lims" (the package was called so before the core and the project package
    were split): tables, migrations, content types and admin URLs of existing databases stay as
    they are."""

    name = "core"
    label = "lims"
    verbose_name = "LIMS core"

    def ready(self) -> None:
        from . import accounts, audit, jobs, signatures

        audit.connect_signals()
        signatures.connect_signals()
        accounts.connect_signals()
        jobs.connect_signals()
