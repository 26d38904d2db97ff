"""Files that can hold several impedance spectra (PalmSens sessions, VersaStudio segments).

One measurement gets one spectrum: a file with several is read only once the user has said
which one (option ``spectrum``, 1-based, in file order), never by a silent first pick that
could put another cell's or another potential's resistance on this measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import ParseError, whole_number

ACCEPTED_OPTIONS = {"spectrum": whole_number(1, 10_000)}
_LISTED = 12


@dataclass
class Spectrum:
    label: str  # how the user recognises it: "Impedance Spectroscopy [2]", "Segment1"
    frequency_hz: list[float]
    z_real_ohm: list[float]
    z_imag_ohm: list[float]  # canonical sign: negative for capacitive behaviour


def choose(spectra: list[Spectrum], options: dict | None, what: str) -> tuple[Spectrum, int]:
    """The spectrum the options name, or the only one; (spectrum, its 1-based number)."""
    if not spectra:
        raise ParseError(f"{what} holds no impedance spectrum")
    wanted = (options or {}).get("spectrum")
    if wanted is None:
        if len(spectra) == 1:
            return spectra[0], 1
        listed = "; ".join(
            f"{i} = {s.label} ({len(s.frequency_hz)} frequencies)"
            for i, s in enumerate(spectra[:_LISTED], start=1)
        )
        more = f"; and {len(spectra) - _LISTED} more" if len(spectra) > _LISTED else ""
        raise ParseError(
            f"{what} holds {len(spectra)} impedance spectra ({listed}{more}); say which one "
            f'this measurement is with the option "spectrum" (e.g. {{"spectrum": 1}})'
        )
    problem = ACCEPTED_OPTIONS["spectrum"](wanted)
    if problem:
        raise ParseError(f"option spectrum: {problem}")
    if wanted > len(spectra):
        raise ParseError(
            f"option spectrum: {wanted} asked for, but {what} holds only {len(spectra)} "
            f"impedance spectr{'um' if len(spectra) == 1 else 'a'}"
        )
    return spectra[wanted - 1], wanted


def split_sweeps(frequency_hz: list[float]) -> list[tuple[int, int]]:
    """(start, stop) index ranges of the frequency sweeps in one data set.

    A sweep runs in the direction of its first step (high to low or low to high); a step the
    other way, or to the same frequency, starts the next sweep (a repeated scan, a scan at the
    next DC potential).
    """
    ranges: list[tuple[int, int]] = []
    start, direction = 0, 0
    for i in range(1, len(frequency_hz)):
        step = frequency_hz[i] - frequency_hz[i - 1]
        sign = (step > 0) - (step < 0)
        if direction == 0 and i - 1 == start and sign != 0:
            direction = sign
            continue
        if sign != direction or sign == 0:
            ranges.append((start, i))
            start, direction = i, 0
    if frequency_hz:
        ranges.append((start, len(frequency_hz)))
    return ranges
