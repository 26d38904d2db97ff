"""Our numpy reader of Neware .ndc tables against NewareNDA, on the real .ndax, and its errors."""

from __future__ import annotations

import io
import random
import time
import zipfile

import numpy as np
import pandas as pd
import polars as pl
import pytest

from measurements.parsers import ParseError, neware_ndax, neware_ndc, parse_file
from tests.instrument_files import instrument_file

NDAX = instrument_file("cellpy/20260302_IFE_BTS85_2_9_8_1.ndax")


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """No Celery and no Django here (overrides the suite-wide fixture)."""
    yield


@pytest.fixture
def oslo_time(monkeypatch):
    """A local time zone other than UTC, so the timestamps' time zone is checked too."""
    monkeypatch.setenv("TZ", "Europe/Oslo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _newarenda(monkeypatch, path, **options):
    """The parse as it was: NewareNDA reads the file."""

    def unsupported(zf, cycle_mode):
        raise neware_ndc.Unsupported("forced by the test")

    with monkeypatch.context() as patch:
        patch.setattr(neware_ndc, "read_ndax", unsupported)
        return parse_file(path, parser_name="neware_ndax", options=options or None)


def test_numpy_reader_gives_newarendas_frame_every_column_every_row(oslo_time):
    raw = neware_ndax._read(NDAX, "chg")
    with zipfile.ZipFile(NDAX) as zf:
        decoded = neware_ndc.read_ndax(zf, "chg")

    assert decoded.columns == list(raw.columns)
    ours = decoded.frame
    theirs = pl.from_pandas(raw[ours.columns])
    assert ours.height == theirs.height == 252951
    for name in ours.columns:
        assert ours[name].dtype == theirs[name].dtype, name
        assert ours[name].equals(theirs[name]), name  # bit for bit, timestamps included
    # The records between runInfo records are interpolated (most of this file).
    assert str(theirs["Timestamp"].dtype.time_zone) != "UTC"


@pytest.mark.parametrize("cycle_mode", ["chg", "auto"])
def test_parse_is_identical_with_either_reader(monkeypatch, cycle_mode):
    ours = parse_file(NDAX, options={"cycle_mode": cycle_mode})
    theirs = _newarenda(monkeypatch, NDAX, cycle_mode=cycle_mode)

    assert ours.metadata.pop("reader") == neware_ndc.READER
    assert theirs.metadata.pop("reader") == "NewareNDA (forced by the test)"
    assert ours.data.columns == theirs.data.columns
    for name in ours.data.columns:
        assert ours.data[name].equals(theirs.data[name]), name
    assert ours.metadata == theirs.metadata
    assert ours.warnings == theirs.warnings


_STATE_CODES = list(neware_ndc.STATES)


@pytest.mark.parametrize("cycle_mode", ["chg", "dchg", "auto"])
def test_cycle_numbers_follow_newarendas_rule(cycle_mode):
    from NewareNDA.utils import _generate_cycle_number

    rng = random.Random(cycle_mode)
    for trial in range(300):
        # Runs of states, mostly charge/discharge/rest, some SIM and others.
        codes = []
        for _ in range(rng.randint(1, 40)):
            code = rng.choice([1, 2, 4, 7, 20, 3, 19, 8, 9, 17, 21, *_STATE_CODES])
            codes += [code] * rng.randint(1, 4)
        if trial % 7 == 0:
            codes = [4] * len(codes)  # only rests: auto falls back to charge
        state = np.array(codes, dtype=np.int64)
        status = pd.Series([neware_ndc.STATES[c] for c in codes], dtype=object)
        expected = _generate_cycle_number(pd.DataFrame({"Status": status}), cycle_mode)
        got = neware_ndc.software_cycle_number(state, cycle_mode)
        assert got.tolist() == [int(v) for v in expected], codes


# --- damaged files: a ParseError, never a crash ------------------------------------------------


def _rezip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _members() -> dict[str, bytes]:
    with zipfile.ZipFile(NDAX) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.mark.parametrize("fraction", [0.01, 0.2, 0.5, 0.9, 0.999])
def test_truncated_ndax_is_a_parse_error(tmp_path, fraction):
    data = NDAX.read_bytes()
    path = tmp_path / "cut.ndax"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ParseError, match="Neware"):
        parse_file(path)


def test_corrupted_compressed_data_ndc_is_a_clear_parse_error(tmp_path):
    data = bytearray(NDAX.read_bytes())
    with zipfile.ZipFile(NDAX) as zf:
        info = zf.getinfo("data.ndc")
    # Local header: 30 bytes + name + extra field, then the compressed bytes.
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 1000, start + 1010):
        data[offset] ^= 0xFF
    path = tmp_path / "rot.ndax"
    path.write_bytes(bytes(data))
    with pytest.raises(ParseError, match="corrupted Neware .ndax file: data.ndc"):
        parse_file(path)


def test_archive_without_data_ndc_is_a_parse_error(tmp_path):
    members = _members()
    del members["data.ndc"]
    path = tmp_path / "nodata.ndax"
    path.write_bytes(_rezip(members))
    with pytest.raises(ParseError, match="has no data.ndc"):
        parse_file(path)


@pytest.mark.parametrize(
    "damage",
    [
        "short data.ndc",
        "unknown state",
        "other version",
        "no step table",
        "zeros",
    ],
)
def test_damaged_tables_give_parse_errors_or_newarendas_reading(tmp_path, damage):
    members = _members()
    if damage == "short data.ndc":
        members["data.ndc"] = members["data.ndc"][:2]
    elif damage == "unknown state":
        step = bytearray(members["data_step.ndc"])
        step[4096 + 132 + 24] = 99  # state of the first step record
        members["data_step.ndc"] = bytes(step)
    elif damage == "other version":
        for name in ("data.ndc", "data_runInfo.ndc", "data_step.ndc"):
            members[name] = members[name][:2] + b"\x63" + members[name][3:]
    elif damage == "no step table":
        del members["data_step.ndc"]
    elif damage == "zeros":
        members["data.ndc"] = members["data.ndc"][:4096] + bytes(len(members["data.ndc"]) - 4096)
    path = tmp_path / "damaged.ndax"
    path.write_bytes(_rezip(members))
    # NewareNDA reads what our reader leaves to it; here it cannot either.
    with pytest.raises(ParseError, match="Neware"):
        parse_file(path)


def test_a_layout_not_checked_is_left_to_newarenda(tmp_path):
    members = _members()
    # A runInfo table ending in a part page: not the layout checked, NewareNDA still reads it.
    members["data_runInfo.ndc"] = members["data_runInfo.ndc"][:-100]
    path = tmp_path / "part-page.ndax"
    path.write_bytes(_rezip(members))
    result = parse_file(path)
    assert result.metadata["reader"] == (
        "NewareNDA (data_runInfo.ndc is not a whole number of 4096-byte pages)"
    )
    assert result.data.height == 252951


def test_random_byte_damage_in_the_tables_never_crashes(tmp_path):
    rng = random.Random(17)
    members = _members()
    for trial in range(6):
        damaged = dict(members)
        for name in ("data.ndc", "data_runInfo.ndc", "data_step.ndc"):
            content = bytearray(damaged[name])
            for _ in range(20):
                content[rng.randrange(4096, len(content))] = rng.randrange(256)
            damaged[name] = bytes(content)
        path = tmp_path / f"{trial}.ndax"
        path.write_bytes(_rezip(damaged))
        try:
            result = parse_file(path)
        except ParseError as exc:
            assert "Neware" in str(exc)
        else:
            assert result.data.height > 0
