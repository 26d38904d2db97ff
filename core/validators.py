"""Validators shared by the models, the web forms and the API, with messages in the lab's
words ("Must be at most 1300.")."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.utils.deconstruct import deconstructible

# Free text a person types (notes, remarks): long enough for a lab-book page, short enough that
# a runaway script cannot store megabytes per record.
NOTES_MAX_LENGTH = 10_000


def readable_number(value) -> str:
    """1300.0 -> "1300", 0.5 -> "0.5", 1e6 -> "1000000": as a person writes a limit."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


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


@deconstructible
class AtMost(MaxValueValidator):
    """An upper bound, worded "Must be at most 1300."."""

    def __init__(self, limit_value, message=None):
        super().__init__(limit_value, message or f"Must be at most {readable_number(limit_value)}.")


@deconstructible
class AtLeast(MinValueValidator):
    """A lower bound, worded "Must be at least 500." ("Must not be negative." for 0)."""

    def __init__(self, limit_value, message=None):
        default = (
            "Must not be negative."
            if limit_value == 0
            else f"Must be at least {readable_number(limit_value)}."
        )
        super().__init__(limit_value, message or default)


def at_most(limit) -> AtMost:
    return AtMost(limit)


def at_least(limit) -> AtLeast:
    return AtLeast(limit)


def max_length(limit: int) -> MaxLengthValidator:
    """For TextFields: Django does not enforce their `max_length` in `full_clean`."""
    return MaxLengthValidator(limit)


@deconstructible
class MaxJsonSize:
    """A JSON value (parser options) no longer than `limit` characters once serialised."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, value) -> None:
        size = len(json.dumps(value, ensure_ascii=False, default=str))
        if size > self.limit:
            raise ValidationError(
                f"Must be at most {self.limit} characters of JSON (this is {size}).",
                code="json_too_large",
            )

    def __eq__(self, other) -> bool:
        return isinstance(other, MaxJsonSize) and other.limit == self.limit


# A NUL character (PostgreSQL text cannot hold it) or half of a UTF-16 surrogate pair (JSON's
# "\ud800" escape decodes to one; it is not text in any encoding a database takes).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = (
    "Contains a NUL character or an unpaired UTF-16 surrogate (\\u0000, \\ud800...), "
    "which cannot be stored; remove it."
)


def is_unstorable(text: str) -> bool:
    return bool(_UNSTORABLE.search(text))


def unstorable_paths(value, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Where text in a JSON value (in its keys too) cannot be stored: the path of keys and
    list indexes to each such string, e.g. ("layers", "1", "item")."""
    if isinstance(value, str):
        if is_unstorable(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if is_unstorable(str(key)):
                yield (*path, ascii(key))
            else:
                yield from unstorable_paths(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_paths(item, (*path, str(index)))
