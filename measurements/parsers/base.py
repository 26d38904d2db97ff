"""The one interface every instrument parser implements.

Parsers are pure functions of a file: no Django, no database. They return canonical columns
(see ``measurements.canonical``) so nothing downstream ever sees an instrument's own names or
units, and they signal every malformed input with ``ParseError`` carrying a message a lab user
can act on.
"""

from __future__ import annotations

import functools
import math
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import polars as pl

Kind = Literal["cycling", "eis", "tga", "xrd"]
MetaValue = str | float | int


class ParseError(Exception):
    """A file could not be read; ``message`` is shown to the user as is.

    ``line`` is the 1-based line of the file where the problem is, when there is one.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


class Doubt(str):
    """A warning that makes the file's numbers doubtful (data points missing, a sweep cut
    short, a clock running backwards), not only worth knowing: a measurement computed from
    such a file is "done, with warnings", never plainly done."""


@dataclass
class ParsedData:
    kind: Kind
    data: pl.DataFrame
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def doubts(self) -> list[str]:
        return [str(w) for w in self.warnings if isinstance(w, Doubt)]


# Checks one option's value: what is wrong with it, or None when it is fine.
OptionCheck = Callable[[Any], "str | None"]


@runtime_checkable
class Parser(Protocol):
    """A format's parser. A parser that takes options (`parse(..., options=)`) says which in
    `accepted_options`: option name -> check of its value (`measurements.parsers.check_options`)."""

    name: str
    label: str
    extensions: tuple[str, ...]

    def sniff(self, head: bytes, filename: str) -> bool:
        """Cheap detection from the first ~8 KB of the file and its original name."""
        ...

    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData: ...


def one_of(*values: str) -> OptionCheck:
    def check(value: Any) -> str | None:
        if value in values:
            return None
        return f"{value!r} is not one of: {', '.join(values)}"

    return check


def is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def whole_number(low: int, high: int) -> OptionCheck:
    def check(value: Any) -> str | None:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"must be a whole number from {low} to {high}"

    return check


def is_finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def option_errors(options: Mapping[str, Any], accepted: Mapping[str, OptionCheck]) -> list[str]:
    """`"<option>: <what is wrong>"` for each unknown option or bad value."""
    errors = []
    for key, value in options.items():
        check = accepted.get(key)
        if check is None:
            known = ", ".join(accepted) if accepted else "none"
            errors.append(f"{key}: not an option of this format (options it takes: {known})")
            continue
        problem = check(value)
        if problem:
            errors.append(f"{key}: {problem}")
    return errors


F = TypeVar("F", bound=Callable[..., ParsedData])

# Errors that a malformed file can provoke deep inside polars, numpy or NewareNDA.
# OSError (missing file, permissions) and MemoryError are deliberately not here: they are not
# the file's fault and the caller must see them as they are (e.g. to retry).
_CONTENT_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    TypeError,
    AssertionError,
    EOFError,
    ArithmeticError,
    NotImplementedError,
    LookupError,
    pl.exceptions.PolarsError,
)


def guard(label: str) -> Callable[[F], F]:
    """Last line of defence: turn any content error escaping a parser into a ParseError.

    Parsers check what they can and raise specific messages; this only catches what a
    library raised on input nobody anticipated, so the worker never crashes on a bad file.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            try:
                return func(*args, **kwargs)
            except ParseError:
                raise
            except _CONTENT_ERRORS as exc:
                detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                msg = f"could not read {label} file ({type(exc).__name__}{': ' if detail else ''}"
                raise ParseError(f"{msg}{detail[:200]})") from exc
            except Exception as exc:  # zipfile.BadZipFile, struct.error, ... from libraries
                if isinstance(exc, OSError | MemoryError):
                    raise
                raise ParseError(f"could not read {label} file ({type(exc).__name__})") from exc

        return wrapper  # type: ignore[return-value]

    return decorate
