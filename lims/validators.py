from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible


@deconstructible
class GreaterThanZero:
    """Strictly positive (masses, thicknesses, dwell times): 0 is as impossible as -1."""

    message = "Must be greater than zero."

    def __call__(self, value) -> None:
        if value is not None and not value > 0:
            raise ValidationError(self.message, code="not_positive", params={"value": value})

    def __eq__(self, other) -> bool:
        return isinstance(other, GreaterThanZero)


greater_than_zero = GreaterThanZero()
