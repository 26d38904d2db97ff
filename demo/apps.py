from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (`manage.py load_demo`) and the synthetic instrument files behind it, the tests
    and the benchmarks. Composition layer: it knows every app; no app imports it."""

    name = "demo"
    verbose_name = "Demo data"

    def ready(self) -> None:
        from core.api import schema

        from .records import EXAMPLE_CODES, EXAMPLE_LOTS, EXAMPLE_NAMES

        # The API schema's examples name the demo records, so "Try it out" works on a demo.
        schema.set_examples(codes=EXAMPLE_CODES, names=EXAMPLE_NAMES, lots=EXAMPLE_LOTS)
