from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self) -> None:
        from core import headlines

        from .models import Pellet

        # A pellet is known by its density as much as by its conductivity (item page headline).
        headlines.register(Pellet.KIND, _pellet_headlines, position=50)


def _pellet_headlines(item):
    from core import display, headlines

    density = item.relative_density
    if density is None:
        return None
    return headlines.Headlines(
        facts=[
            headlines.Fact(
                "relative density (%)",
                display.number(100 * density),
                f"of {display.number(item.pellet_set.theoretical_density_g_cm3)} g/cm³",
                key="relative_density",
            )
        ]
    )
