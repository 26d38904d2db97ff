"""Neware BTS ``.ndax`` (zip of binary ``.ndc`` tables + XML), read by our numpy reader or ``NewareNDA``.

The ``.ndc`` layouts checked on real files (ndc version 17: see ``neware_ndc``) are decoded by
``neware_ndc`` with numpy, giving the same frame as NewareNDA several times faster; every other
layout is read by NewareNDA as before. ``metadata["reader"]`` says which one read the file.

NewareNDA returns ``Current(mA)`` signed (negative on discharge), ``Voltage`` in V,
capacities in mAh split into charge and discharge counters that reset at each step, and
``Time`` as the time within the step. Test time is taken from the record timestamps (they
include pauses), falling back to summing the step times if the clock is unusable.

Speed: under pandas 3, text columns are Arrow-backed strings, and NewareNDA's cycle-number loop
indexes the ``Status`` column row by row, which is slow on them. Reading with pandas' string
inference off gives the same frame (checked on the real files) in about a third of the time.
"""

from __future__ import annotations

import contextlib
import pathlib
import warnings
import zipfile
from collections.abc import Iterator

import pandas as pd
import polars as pl

from measurements import canonical as c

from . import neware_ndc
from ._common import ensure_rows, finish, names_metadata
from .base import ParsedData, ParseError, guard, one_of

_ZIP_MAGIC = b"PK\x03\x04"
_MEMBERS = (b"data.ndc", b"TestInfo.xml", b"VersionInfo.xml", b"Step.xml")
_COLUMNS = (
    "Cycle",
    "Step",
    "Time",
    "Voltage",
    "Current(mA)",
    "Charge_Capacity(mAh)",
    "Discharge_Capacity(mAh)",
    "Charge_Energy(mWh)",
    "Discharge_Energy(mWh)",
)


@contextlib.contextmanager
def object_strings() -> Iterator[None]:
    """pandas' text columns as Python objects while NewareNDA reads (see the module docstring).

    The option is deprecated in pandas 3 and gone in pandas 4; there it simply reads as is.
    pandas options are process-wide: the worker reads one file at a time per process.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*future.infer_string.*")
        try:
            context = pd.option_context("future.infer_string", False)
            context.__enter__()
        except (KeyError, pd.errors.OptionError):
            yield
            return
        try:
            yield
        finally:
            context.__exit__(None, None, None)


def _read(path: pathlib.Path, cycle_mode: str):
    from NewareNDA.NewareNDAx import read_ndax  # lazy: heavy import, only for .ndax

    # read_ndax rather than NewareNDA.read: the raw-file store keeps files under their hash,
    # and read() dispatches on the file extension.
    with object_strings():
        return read_ndax(str(path), software_cycle_number=True, cycle_mode=cycle_mode)


def _open_container(path: pathlib.Path) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ParseError(
            "not a Neware .ndax file: not a readable zip archive (truncated?)"
        ) from None
    if "data.ndc" not in zf.namelist():
        zf.close()
        raise ParseError("not a Neware .ndax file: the archive has no data.ndc")
    return zf


def _time_s(frame: pl.DataFrame) -> tuple[pl.Expr, str, list[str]]:
    """(seconds since start, source, warnings). Timestamps unless they ever go backwards."""
    warnings = []
    if "Timestamp" in frame.columns and frame.get_column("Timestamp").null_count() == 0:
        elapsed = (pl.col("Timestamp") - pl.col("Timestamp").first()).dt.total_microseconds() / 1e6
        backwards = frame.select((elapsed.diff() < 0).sum()).item()
        if not backwards:
            return elapsed, "Timestamp", warnings
        # Seen in real files: the tester's clock is re-synchronised every few hours.
        warnings.append(
            f"record timestamps go backwards {backwards} times (clock corrections); "
            "time_s is the sum of the step times instead"
        )
    # Step time restarts at each step: add the end time of every earlier step.
    starts = pl.col("Step").ne_missing(pl.col("Step").shift(1))
    step_end = pl.when(starts.shift(-1).fill_null(True)).then(pl.col("Time")).otherwise(0.0)
    offset = step_end.cum_sum() - step_end
    offset_at_start = pl.when(starts).then(offset).otherwise(None).forward_fill()
    return pl.col("Time") + offset_at_start, "sum of step times", warnings


class NewareNdaxParser:
    name = "neware_ndax"
    label = "Neware BTS (.ndax)"
    extensions = (".ndax",)
    # How NewareNDA counts cycles: a new one at each charge after a discharge (chg), the
    # reverse (dchg), or from the first non-rest step (auto).
    accepted_options = {"cycle_mode": one_of("chg", "dchg", "auto")}

    def sniff(self, head: bytes, filename: str) -> bool:
        if not head.startswith(_ZIP_MAGIC):
            return False
        return filename.lower().endswith(".ndax") or any(m in head for m in _MEMBERS)

    @guard("Neware .ndax")
    def parse(self, path: pathlib.Path, *, options: dict | None = None) -> ParsedData:
        if path.stat().st_size == 0:
            raise ParseError("empty file: no Neware data")
        cycle_mode = (options or {}).get("cycle_mode", "chg")
        with _open_container(path) as zf:
            try:
                decoded = neware_ndc.read_ndax(zf, cycle_mode)
            except neware_ndc.Unsupported as why:
                fallback = str(why)
            else:
                result = canonical_frame(decoded.frame, decoded.columns, self.label, cycle_mode)
                result.metadata["reader"] = neware_ndc.READER
                return result
        # A layout our reader does not implement: NewareNDA reads it (and raises on what it
        # cannot read, which ``guard`` turns into a ParseError).
        result = canonical(_read(path, cycle_mode), self.label, cycle_mode)
        result.metadata["reader"] = f"NewareNDA ({fallback})"
        return result


def canonical(raw: pd.DataFrame, label: str, cycle_mode: str) -> ParsedData:
    """NewareNDA's frame (from an .ndax or an .nda file) in canonical columns."""
    missing = [name for name in _COLUMNS if name not in raw.columns]
    if missing:
        raise ParseError(f"column '{missing[0]}' missing from the Neware data")
    keep = [*_COLUMNS, *(["Timestamp"] if "Timestamp" in raw.columns else [])]
    return canonical_frame(pl.from_pandas(raw[keep]), list(raw.columns), label, cycle_mode)


def canonical_frame(
    frame: pl.DataFrame, original: list[str], label: str, cycle_mode: str
) -> ParsedData:
    """NewareNDA's columns (as polars, from either reader) in canonical columns.

    ``original``: the column names of NewareNDA's frame for the file (listed in the metadata).
    """
    ensure_rows(frame, label)
    time_expr, time_source, warnings = _time_s(frame)
    data = finish("cycling", _expressions(time_expr), frame)
    metadata = {
        "instrument": "Neware",
        "format": label,
        "row_count": data.height,
        "time_source": time_source,
        "cycle_source": f"NewareNDA software cycle number (cycle_mode={cycle_mode!r})",
        **names_metadata(original, _USED),
    }
    if "Timestamp" in frame.columns:
        metadata["start_time"] = str(frame.get_column("Timestamp").first())
    return ParsedData("cycling", data, metadata, warnings)


def _expressions(time_expr: pl.Expr) -> dict[str, pl.Expr]:
    return {
        c.TIME_S: time_expr,
        c.VOLTAGE_V: pl.col("Voltage"),
        c.CURRENT_MA: pl.col("Current(mA)"),
        c.CYCLE: pl.col("Cycle"),
        c.STEP: pl.col("Step"),
        # One of the two counters is zero in any step; their sum is the step's charge.
        c.STEP_CAPACITY_MAH: pl.col("Charge_Capacity(mAh)").abs()
        + pl.col("Discharge_Capacity(mAh)").abs(),
        c.STEP_ENERGY_MWH: pl.col("Charge_Energy(mWh)").abs()
        + pl.col("Discharge_Energy(mWh)").abs(),
    }


_USED = {
    c.TIME_S: "Timestamp (or Time per step)",
    c.VOLTAGE_V: "Voltage",
    c.CURRENT_MA: "Current(mA)",
    c.CYCLE: "Cycle",
    c.STEP: "Step",
    c.STEP_CAPACITY_MAH: "Charge_Capacity(mAh) + Discharge_Capacity(mAh)",
    c.STEP_ENERGY_MWH: "Charge_Energy(mWh) + Discharge_Energy(mWh)",
}

PARSER = NewareNdaxParser()
