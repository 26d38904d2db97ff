"""The one interface every instrument parser implements.

Parsers are pure functions of a file: no Django, no database. They return canonical columns
(see ``measurements.canonical``) so nothing downstream ever sees an instrument's own names or
units, and they signal every malformed input with ``ParseError`` carrying a message a lab user
can act on.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar, runtime_checkable

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


@dataclass
class ParsedData:
    kind: Kind
    data: pl.DataFrame
    metadata: dict[str, MetaValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@runtime_checkable
class Parser(Protocol):
    name: str
    label: str
    extensions: tuple[str, ...]

    def sniff(self, head: bytes, filename: str) -> bool:
        """Cheap detection from the first ~8 KB of the file and its original name."""
        ...

    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData: ...


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
