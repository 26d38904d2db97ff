"""Vectorised reader for the binary ``.ndc`` tables inside a Neware ``.ndax`` (ndc version 17).

NewareNDA (BSD-3-Clause) decodes ``.ndc`` files with a Python loop over every record, which is
most of the time spent reading a large ``.ndax``. This module decodes the same bytes with numpy
(one structured view per file, no loop per record) and rebuilds exactly the frame NewareNDA
returns, column for column, so ``neware_ndax.canonical`` gives the same canonical data.

Implemented and checked on a real file (tests/data/instrument-files/cellpy, BTS 8.5, checked
column by column and row by row against NewareNDA in tests/measurements/test_neware_ndc.py):

- ndc version 17, the layout split into three tables: ``data.ndc`` (filetype 1: voltage and
  current), ``data_runInfo.ndc`` (filetype 18: time, capacities, energies, timestamps, written
  only every so many records; the rows in between are interpolated as NewareNDA does) and
  ``data_step.ndc`` (filetype 7: cycle, step index and state of each step);
- the auxiliary-channel files (``data_AUX_*.ndc``, filetype 5): the canonical frame does not use
  their values, so only the column names NewareNDA would give them are rebuilt (they are listed
  in the metadata); their data is not decoded.

Every other ndc version or filetype, a file without the runInfo/step tables, and anything that
does not look like what was checked (page sizes, unknown state codes, records without a step)
raise ``Unsupported``: the caller then reads the file with NewareNDA, as before.

Layout (from reading NewareNDA's source): after a 4096-byte file header, 4096-byte pages, each
with a 132-byte page header; records fill the rest of the page up to a short trailer.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
import polars as pl

from .base import ParseError

PAGE = 4096
VERSION = 17
READER = "lims numpy reader (ndc version 17: data + runInfo + step tables)"

# Column names of NewareNDA's frame, in its order (the aux columns follow).
NEWARENDA_COLUMNS = (
    "Index",
    "Cycle",
    "Step",
    "Step_Index",
    "Status",
    "Time",
    "Voltage",
    "Current(mA)",
    "Charge_Capacity(mAh)",
    "Discharge_Capacity(mAh)",
    "Charge_Energy(mWh)",
    "Discharge_Energy(mWh)",
    "Timestamp",
)

# ndc 17, filetype 1 (data.ndc): records of two little-endian float32 (voltage V, current A),
# bytes 132..4092 of each page.
_DATA = np.dtype([("voltage", "<f4"), ("current", "<f4")])
_DATA_SPAN = (132, PAGE - 4)

# ndc 17, filetype 18 (data_runInfo.ndc): 100-byte records, bytes 132..4032 of each page.
# Time and dt in ms; capacities (Ah) and energies (Wh) as float32; Unix seconds + ms.
_RUN_INFO = np.dtype(
    {
        "names": ["time", "chg_cap", "dchg_cap", "chg_energy", "dchg_energy", "dt", "unix"]
        + ["step", "index", "msec"],
        "formats": ["<i4", "<f4", "<f4", "<f4", "<f4", "<i4", "<i4", "<i4", "<i4", "<i2"],
        "offsets": [0, 5, 9, 13, 17, 29, 33, 37, 41, 45],
        "itemsize": 100,
    }
)
# ndc 17, filetype 7 (data_step.ndc): 100-byte records, bytes 132..4032 of each page.
_STEP = np.dtype(
    {
        "names": ["cycle", "step_index", "state", "index"],
        "formats": ["<i4", "<i4", "i1", "<i4"],
        "offsets": [0, 4, 24, 33],
        "itemsize": 100,
    }
)
_TABLE_SPAN = (132, PAGE - 64)

# Neware state codes (as NewareNDA names them).
STATES = {
    1: "CC_Chg",
    2: "CC_DChg",
    3: "CV_Chg",
    4: "Rest",
    5: "Cycle",
    7: "CCCV_Chg",
    8: "CP_DChg",
    9: "CP_Chg",
    10: "CR_DChg",
    13: "Pause",
    16: "Pulse",
    17: "SIM",
    19: "CV_DChg",
    20: "CCCV_DChg",
    21: "Control",
    22: "OCV",
    26: "CPCV_DChg",
    27: "CPCV_Chg",
}
# Aux channel types NewareNDA names a channel by (TestInfo.xml ChlType).
_AUX_TYPES = {"103": "T", "335": "t", "345": "H"}
_AUX_NAME = re.compile(r"data_AUX_(\d+)_(\d+)_(\d+)\.ndc")
_OTHER_NUMBERED = re.compile(r".*_(\d+)\.ndc")


class Unsupported(Exception):
    """A layout this reader does not implement (or that does not look as checked)."""


@dataclass
class Decoded:
    frame: pl.DataFrame  # Cycle, Step, Time, Voltage, ..., Timestamp as NewareNDA types them
    columns: list[str]  # NewareNDA's column names for this file, aux columns included


def read_ndax(zf: zipfile.ZipFile, cycle_mode: str) -> Decoded:
    names = zf.namelist()
    for member in ("data.ndc", "data_runInfo.ndc", "data_step.ndc"):
        if member not in names:
            raise Unsupported(f"no {member}")
    data = _pages(_member(zf, "data.ndc"), 1, "data.ndc")
    run_info = _pages(_member(zf, "data_runInfo.ndc"), 18, "data_runInfo.ndc")
    steps = _pages(_member(zf, "data_step.ndc"), 7, "data_step.ndc")
    aux_columns = _aux_columns(zf, names)
    frame = _frame(data, run_info, steps, cycle_mode)
    return Decoded(frame, [*NEWARENDA_COLUMNS, *aux_columns])


# Largest member the reader decompresses: zip's declared size bounds what zf.read allocates,
# so a damaged or hostile archive (a few KB claiming gigabytes) is refused before reading.
# A 1.5-million-row test's data.ndc is well under 200 MB.
MAX_MEMBER_BYTES = 2 << 30


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    size = zf.getinfo(name).file_size
    if size > MAX_MEMBER_BYTES:
        raise ParseError(
            f"Neware .ndax file: {name} claims {size / 2**30:.1f} GiB uncompressed "
            f"(more than {MAX_MEMBER_BYTES / 2**30:.0f} GiB): a damaged archive"
        )
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ParseError(
            f"corrupted Neware .ndax file: {name} cannot be extracted ({exc})"
        ) from None


def _pages(raw: bytes, filetype: int, name: str) -> np.ndarray:
    """The file's pages as a (pages, 4096) uint8 array, after checking its version and type."""
    if len(raw) < 3:
        raise Unsupported(f"{name} is too short for an ndc header")
    if raw[2] != VERSION or raw[0] != filetype:
        raise Unsupported(f"{name} is ndc version {raw[2]} filetype {raw[0]}")
    if len(raw) % PAGE:
        raise Unsupported(f"{name} is not a whole number of {PAGE}-byte pages")
    return np.frombuffer(raw, np.uint8, offset=PAGE).reshape(-1, PAGE)


def _records(pages: np.ndarray, span: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    body = np.ascontiguousarray(pages[:, span[0] : span[1]])
    return body.reshape(-1).view(dtype)


def _count_changes(values: np.ndarray) -> np.ndarray:
    """1 for the first run of equal values, +1 at every change (NewareNDA's step counter)."""
    change = np.ones(len(values), dtype=np.int64)
    change[1:] = values[1:] != values[:-1]
    return np.cumsum(change)


def _frame(
    data_pages: np.ndarray, run_pages: np.ndarray, step_pages: np.ndarray, cycle_mode: str
) -> pl.DataFrame:
    # data.ndc: one record per slot; the record number (Index) counts empty slots too, and
    # records with a voltage of exactly 0 are empty.
    records = _records(data_pages, _DATA_SPAN, _DATA)
    voltage_all = records["voltage"].astype(np.float64)
    index_all = np.arange(1, len(records) + 1, dtype=np.int64)
    keep = voltage_all != 0
    voltage = voltage_all[keep]
    current = records["current"][keep].astype(np.float64) * 1000  # A -> mA
    index = index_all[keep]
    if not len(index):
        raise Unsupported("no records in data.ndc")

    # runInfo: records with a record number; the step counter counts changes before duplicates
    # of a record number are dropped (the first one is kept).
    run = _records(run_pages, _TABLE_SPAN, _RUN_INFO)
    run = run[run["index"] != 0]
    run_step = _count_changes(run["step"])
    run_index = run["index"].astype(np.int64)
    first = np.sort(np.unique(run_index, return_index=True)[1])
    run, run_step, run_index = run[first], run_step[first], run_index[first]
    if not len(run_index):
        raise Unsupported("no records in data_runInfo.ndc")

    # Left join of the data records on the runInfo records by record number.
    order = np.argsort(run_index, kind="stable")
    pos = np.searchsorted(run_index, index, sorter=order)
    pos = np.minimum(pos, len(run_index) - 1)
    match = order[pos]
    matched = run_index[match] == index
    if not matched[0]:
        raise Unsupported("the first data record has no runInfo record")
    # Forward fill: the runInfo record of the last matched data record.
    last = np.maximum.accumulate(np.where(matched, np.arange(len(index)), 0))
    src = match[last]

    # Steps: each step record in file order is step 1, 2, ...; each row gets its step's.
    step_records = _records(step_pages, _TABLE_SPAN, _STEP)
    step_records = step_records[step_records["index"] != 0]
    step = run_step[src]
    if len(step_records) == 0 or step.max() > len(step_records):
        raise Unsupported("records whose step is not in data_step.ndc")
    state = step_records["state"].astype(np.int64)[step - 1]
    unknown = set(np.unique(state).tolist()) - STATES.keys()
    if unknown:
        raise Unsupported(f"unknown state codes {sorted(unknown)}")
    step_index = step_records["step_index"].astype(np.int64)
    if step_index.min() < 0 or step_index.max() > np.iinfo(np.uint32).max:
        raise Unsupported("step indices outside 0..2**32-1")

    run_time = (run["time"] / 1000)[src]
    dt = (run["dt"] / 1000)[src]
    capacities = [
        (run[field].astype(np.float64) * 1000)[src]  # Ah -> mAh, Wh -> mWh
        for field in ("chg_cap", "dchg_cap", "chg_energy", "dchg_energy")
    ]
    unix_us = run["unix"].astype(np.int64) * 1_000_000 + run["msec"].astype(np.int64) * 1000
    stamp_us = unix_us[src]
    timestamp = pd.Series(stamp_us.astype("datetime64[us]")).dt.tz_localize("UTC")

    if not matched.all():
        time, capacities, timestamp = _interpolate(
            matched, run_time, dt, current, voltage, capacities, timestamp
        )
    else:
        time = run_time
    timestamp = timestamp.dt.tz_convert(datetime.now().astimezone().tzinfo)

    cycle = software_cycle_number(state, cycle_mode)
    frame = pl.DataFrame(
        {
            "Cycle": cycle.astype(np.uint32),
            "Step": step.astype(np.uint32),
            "Time": time.astype(np.float32),
            "Voltage": voltage.astype(np.float32),
            "Current(mA)": current.astype(np.float32),
            "Charge_Capacity(mAh)": capacities[0].astype(np.float32),
            "Discharge_Capacity(mAh)": capacities[1].astype(np.float32),
            "Charge_Energy(mWh)": capacities[2].astype(np.float32),
            "Discharge_Energy(mWh)": capacities[3].astype(np.float32),
        }
    )
    return frame.with_columns(pl.from_pandas(timestamp.rename("Timestamp")))


def _interpolate(matched, run_time, dt, current, voltage, capacities, timestamp):
    """Fill the records between runInfo records the way NewareNDA does.

    Each gap (with the matched record that ends it) is a group; the gap's records advance from
    the last runInfo record by the running sum of dt, and its charge and energy by the running
    sums of I*dt and I*dt*V. The running sums are pandas' grouped cumsum (Kahan-compensated,
    so numpy's plain cumsum would differ in the last bits), values taken with abs() as NewareNDA
    does.
    """
    missing = ~matched
    groups = np.zeros(len(matched), dtype=np.int64)
    groups[1:] = np.cumsum(matched)[:-1]
    capacity = dt * current / 3600
    energy = capacity * voltage
    sums = pd.DataFrame({"dt": dt, "q": capacity, "e": energy}).groupby(groups).cumsum()
    time_inc = sums["dt"].to_numpy() * missing
    q_inc = sums["q"].to_numpy() * missing
    e_inc = sums["e"].to_numpy() * missing
    time = run_time + time_inc
    timestamp = timestamp + pd.to_timedelta(pd.Series(time_inc), unit="s")
    filled = [
        np.abs(capacities[0]) + np.abs(np.clip(q_inc, 0, None)),
        np.abs(capacities[1]) + np.abs(np.clip(q_inc, None, 0)),
        np.abs(capacities[2]) + np.abs(np.clip(e_inc, 0, None)),
        np.abs(capacities[3]) + np.abs(np.clip(e_inc, None, 0)),
    ]
    return time, filled, timestamp


def software_cycle_number(state: np.ndarray, cycle_mode: str) -> np.ndarray:
    """Cycle numbers from the state of each record, as NewareNDA's software cycle number.

    A cycle starts at the first record of a charge (``chg``; discharge for ``dchg``) by CC, CCCV
    or CP when a discharge (the other direction, any mode) or a SIM step came since the start of
    the previous such charge run. ``auto`` takes the direction of the first state that is not
    Rest (charge if that state has no direction).
    """
    names = STATES
    if cycle_mode == "auto":
        active = np.flatnonzero(state != 4)  # 4: Rest
        direction = names[int(state[active[0]])].partition("_")[2] if len(active) else ""
        cycle_mode = direction.lower() or "chg"
    into, other = ("Chg", "DChg") if cycle_mode == "chg" else ("DChg", "Chg")
    starts_codes = [
        c for c, n in names.items() if n in (f"CC_{into}", f"CCCV_{into}", f"CP_{into}")
    ]
    flag_codes = [c for c, n in names.items() if n.partition("_")[2] == other or n == "SIM"]
    incremental = np.isin(state, starts_codes)
    flags = np.isin(state, flag_codes)
    run_start = np.zeros(len(state), dtype=bool)
    run_start[1:] = incremental[1:] & ~incremental[:-1]
    # A run start counts if a flag came since the previous run start (or the first record).
    starts = np.flatnonzero(run_start)
    flags_before = np.concatenate([[0], np.cumsum(flags)])  # flags in records [0, n)
    bounds = np.concatenate([[0], starts])
    counts = flags_before[bounds[1:]] - flags_before[bounds[:-1]]
    new_cycle = np.zeros(len(state), dtype=np.int64)
    new_cycle[starts[counts > 0]] = 1
    return 1 + np.cumsum(new_cycle)


def _aux_columns(zf: zipfile.ZipFile, names: list[str]) -> list[str]:
    """The names NewareNDA gives the aux channels' columns after merging them in, in order."""
    numbered = []
    for name in names:
        match = _AUX_NAME.search(name)
        if match:
            numbered.append((name, [int(g) for g in match.groups()]))
            continue
        match = _OTHER_NUMBERED.search(name)
        if match:
            numbered.append((name, [int(match.group(1)), 0, 0]))
    if not numbered:
        return []
    numbered.sort(key=lambda item: item[1])
    files = [name for name, _ in numbered]
    channels: list[dict] = [{} for _ in files]
    try:
        text = zf.read("TestInfo.xml").decode("gb2312")
        info = ET.fromstring(text).find("config/TestInfo")
        found = [k.attrib for k in info if "Aux" in k.tag] if info is not None else []
        if len(found) == len(files):
            channels = found
    except Exception:  # as NewareNDA: without TestInfo.xml the channels have no ID or type
        pass
    merged = pd.DataFrame(columns=list(NEWARENDA_COLUMNS))
    for number, (name, channel) in enumerate(zip(files, channels, strict=True)):
        try:
            with zf.open(name) as fh:
                head = fh.read(3)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ParseError(
                f"corrupted Neware .ndax file: {name} cannot be extracted ({exc})"
            ) from None
        if len(head) < 3 or head[2] != VERSION or head[0] != 5:
            raise Unsupported(f"aux file {name} is not ndc version {VERSION} filetype 5")
        # Version 17 aux tables have one value column of unknown kind, named by ChlType.
        value = _AUX_TYPES.get(channel.get("ChlType"), "?")
        aux_id = channel.get("AuxID", -number - 1)
        aux = pd.DataFrame(columns=[f"{value}{aux_id}", "Index"])
        merged = merged.merge(aux, how="left", on="Index")
    return [str(col) for col in merged.columns[len(NEWARENDA_COLUMNS) :]]
