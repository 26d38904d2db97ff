from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The project package as an app, for its management commands only (`backup`, `restore`):
    a backup knows every app, so it belongs to the composition layer. No models. The label is
    not "lims", which is the core's (docs/architecture.md)."""

    name = "lims"
    label = "operations"
    verbose_name = "Operations"
