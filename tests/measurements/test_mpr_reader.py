"""Our BioLogic .mpr reader against a peer reader, and on the layouts and damage it must handle.

The reference numbers were read with galvani 0.5.0 as a peer reference, in a throwaway script
outside the repository (galvani is GPL: nothing here imports or copies it): row counts, column
names ("; "-joined), and per column the exact sum (math.fsum), first and last value as float64.
Neither file has Re(Z)/-Im(Z) columns (biol.mpr records |Z| and Phase(Z)); its impedance is
checked as Z' and Z'' computed from galvani's |Z| and Phase(Z).
"""

from __future__ import annotations

import math
import struct
import sys

import numpy as np
import pytest

from measurements import canonical as c
from measurements.parsers import ParseError, parse_file
from measurements.parsers._mpr import read_mpr
from tests.instrument_files import instrument_file

BIOL = instrument_file("cellpy/biol.mpr")  # data module v2
NAVANI = instrument_file("navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")  # v3

# Read with galvani 0.5.0 as a peer reference (see the module docstring).
REFERENCE = {
    BIOL: {
        "rows": 23561,
        "columns": (
            "flags; Ns; I Range; time/s; control/mA; Ewe/V; I/mA; dq/mA.h; (Q-Qo)/mA.h; "
            "|Energy|/W.h; freq/Hz; |Z|/Ohm; Phase(Z)/deg; Q charge/discharge/mA.h; "
            "half cycle; Ece/V; <Ece>/V; |Ece|/V; Phase(Zce)/deg; |Zce|/Ohm; Re(Zce)/Ohm; "
            "-Im(Zce)/Ohm; Phase(Zwe-ce)/deg; |Zwe-ce|/Ohm; Re(Zwe-ce)/Ohm; "
            "-Im(Zwe-ce)/Ohm; z cycle; Energy charge/W.h; Energy discharge/W.h; "
            "Capacitance charge/µF; Capacitance discharge/µF"
        ),
        "started": "2017-03-15 10:22:54",
        "flags": 336083,
        "I Range": 304630,
        # column: (sum, first, last)
        "values": {
            "time/s": (1062335263.3872359, 0.0, 76139.10400116211),
            "Ewe/V": (10815.38233923167, 0.12348721921443939, 0.5515370965003967),
            "I/mA": (3991.4832014653366, 0.0, 0.0),
            "dq/mA.h": (4.976893132347387, 0.0, 0.0),
            "(Q-Qo)/mA.h": (76463.38667480118, 0.0, 4.9768934284649164),
            "freq/Hz": (1994617.3288962357, 0.0, 0.0),
            "|Z|/Ohm": (5638.458626270294, 0.0, 0.0),
            "Phase(Z)/deg": (-3204.386719286442, 0.0, 0.0),
            "Ns": (105561.0, 0.0, 11.0),
            "half cycle": (0.0, 0.0, 0.0),
            "Q charge/discharge/mA.h": (76463.38281187824, 0.0, 4.976893132347389),
        },
    },
    NAVANI: {
        "rows": 46102,
        "columns": (
            "flags; Ns; time/s; dq/mA.h; (Q-Qo)/mA.h; control/V/mA; Ewe/V; I Range; "
            "Q charge/discharge/mA.h; half cycle; P/W"
        ),
        "started": "2020-10-26 12:49:58",
        "flags": 3396684,
        "I Range": 599686,
        "values": {
            "time/s": (10511827332.018, 0.0, 456309.58615131397),
            "Ewe/V": (133895.19760346413, 2.508575916290283, 1.99996018409729),
            "dq/mA.h": (0.2761683230265826, 0.0, -4.93219287859069e-09),
            "(Q-Qo)/mA.h": (22722.338727698563, 0.0, 0.2761686039399662),
            "Ns": (111963.0, 0.0, 3.0),
            "half cycle": (335883.0, 0.0, 13.0),
            "Q charge/discharge/mA.h": (1706.0738266220042, 0.0, -0.8794916296882441),
        },
    },
}
# biol.mpr's 310 impedance points (|Z| and Phase(Z) only), as Z' = |Z| cos(phase) and
# Z'' = |Z| sin(phase) computed with numpy from galvani's columns: sums, first Z', last Z''.
BIOL_EIS = (310, 5360.749135207521, -1256.8612876846964, 6.564877857014888, -71.80706797003957)


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """Overrides the suite-wide Celery fixture: these tests need neither Celery nor Django."""
    yield


def _data_module_at(data: bytes) -> int:
    """Offset of the data module's header ('MODULE' + 'VMP data'), found without our reader."""
    return data.index(b"MODULEVMP data")


# --- the two real files against the peer reference ------------------------------------------


@pytest.mark.parametrize("path", list(REFERENCE), ids=lambda p: p.name[:12])
def test_records_match_the_peer_reference_to_the_last_bit(path):
    expected = REFERENCE[path]
    content = read_mpr(path.read_bytes())
    records = content.records

    assert len(records) == expected["rows"]
    assert "; ".join(records.dtype.names) == expected["columns"]
    assert str(content.started) == expected["started"]
    assert int(records["flags"].astype(np.int64).sum()) == expected["flags"]
    assert int(records["I Range"].astype(np.int64).sum()) == expected["I Range"]
    for name, (total, first, last) in expected["values"].items():
        values = np.asarray(records[name], dtype=np.float64)
        assert (math.fsum(values), values[0], values[-1]) == (total, first, last), name


def test_biol_impedance_points_match_the_peer_reference():
    count, re_sum, im_sum, first_re, last_im = BIOL_EIS
    data = parse_file(BIOL, options={"kind": "eis"}).data

    assert data.height == count
    assert math.fsum(data[c.Z_REAL_OHM]) == pytest.approx(re_sum, rel=1e-12)
    assert math.fsum(data[c.Z_IMAG_OHM]) == pytest.approx(im_sum, rel=1e-12)
    assert data[c.Z_REAL_OHM][0] == pytest.approx(first_re, rel=1e-12)
    assert data[c.Z_IMAG_OHM][-1] == pytest.approx(last_im, rel=1e-12)


def test_reading_needs_no_galvani(monkeypatch):
    monkeypatch.setitem(sys.modules, "galvani", None)  # any import of it now fails

    assert parse_file(BIOL).data.height == 23561 - 310
    assert parse_file(NAVANI).data.height == 46102


def test_parser_reports_modules_and_acquisition_start():
    meta = parse_file(NAVANI).metadata

    assert meta["modules"] == "VMP Set v0; VMP data v3; VMP LOG v0"
    assert meta["acquisition_started"] == "2020-10-26 12:49:58"
    assert meta["original_columns"] == REFERENCE[NAVANI]["columns"]


# --- layouts: EC-Lab >= 11.50 (long module headers, data module v0), unknown versions -------


def _as_eclab_11_50(data: bytes) -> bytes:
    """The same measurement packed the way EC-Lab >= 11.50 writes it: module headers with a
    0xFFFFFFFF field before the length and a fourth number before the date, and a v0 data
    module (16-bit column count, column ids from byte 6, points from byte 0x3EF)."""
    out, pos = [data[:0x34]], 0x34
    while pos < len(data):
        short, long_, length, version, date = struct.unpack_from("<10s25sII8s", data, pos + 6)
        body = data[pos + 57 : pos + 57 + length]
        if short.startswith(b"VMP data"):
            n_points, n_columns = struct.unpack_from("<IB", body)
            header = struct.pack("<IH", n_points, n_columns) + body[5 : 5 + 2 * n_columns]
            body, version = header.ljust(0x3EF, b"\0") + body[0x196:], 0  # NAVANI is v3
        fields = (short, long_, 0xFFFFFFFF, len(body), version, 10, date)
        out.append(b"MODULE" + struct.pack("<10s25sIIII8s", *fields) + body)
        pos += 57 + length
    return b"".join(out)


def test_eclab_11_50_layout_gives_the_same_records():
    original = read_mpr(NAVANI.read_bytes())
    repacked = read_mpr(_as_eclab_11_50(NAVANI.read_bytes()))

    assert [str(m) for m in repacked.modules] == ["VMP Set v0", "VMP data v0", "VMP LOG v0"]
    assert repacked.records.dtype == original.records.dtype
    assert repacked.records.tobytes() == original.records.tobytes()
    assert repacked.started == original.started


@pytest.mark.parametrize(
    "version, message",
    [
        (1, r"version 1 \(this reader knows versions 0, 2, 3\)"),
        (4, r"version 4 \(this reader knows versions 0, 2, 3\)"),
        (0, r"version 0 without the module header of EC-Lab >= 11\.50"),
    ],
)
def test_unsupported_data_module_version_is_named(tmp_path, version, message):
    data = bytearray(NAVANI.read_bytes())
    struct.pack_into("<I", data, _data_module_at(data) + 45, version)
    path = tmp_path / "version.mpr"
    path.write_bytes(bytes(data))

    with pytest.raises(ParseError, match=r"^unsupported BioLogic \.mpr data module " + message):
        parse_file(path)


def _with_column_ids(ids: dict[int, int]) -> bytes:
    """NAVANI with some column ids (by position) replaced."""
    data = bytearray(NAVANI.read_bytes())
    first_id = _data_module_at(data) + 57 + 5
    for index, cid in ids.items():
        struct.pack_into("<H", data, first_id + 2 * index, cid)
    return bytes(data)


def test_one_unknown_column_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "unknown.mpr"
    path.write_bytes(_with_column_ids({15: 999}))  # P/W, the last of 16 ids (6 are flags)
    result = parse_file(path)

    assert "column id 999 is not known to this reader; its bytes were skipped" in result.warnings
    assert result.metadata["original_columns"].endswith("half cycle; unknown column 999")
    assert result.data.equals(parse_file(NAVANI).data)


def test_two_unknown_columns_are_a_parse_error(tmp_path):
    path = tmp_path / "unknown2.mpr"
    path.write_bytes(_with_column_ids({14: 998, 15: 999}))

    with pytest.raises(ParseError, match=r"column ids this reader does not know \(998, 999\)"):
        parse_file(path)


# --- damaged files --------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [30, 60, 3000, 7150, 7300, 2_000_000, 2_450_990, 2_451_020])
def test_truncated_file_is_reported_as_truncated(tmp_path, cut):
    path = tmp_path / "cut.mpr"
    path.write_bytes(NAVANI.read_bytes()[:cut])

    with pytest.raises(ParseError, match=r"BioLogic \.mpr"):
        parse_file(path)
    if cut > 0x34:
        with pytest.raises(ParseError, match=r"^damaged BioLogic \.mpr file \(truncated\?\): "):
            parse_file(path)


def test_bytes_after_the_last_module_are_damage(tmp_path):
    path = tmp_path / "tail.mpr"
    path.write_bytes(NAVANI.read_bytes() + b"\0" * 16)

    with pytest.raises(ParseError, match=r"no module starts at byte 2465718"):
        parse_file(path)


def test_point_count_that_does_not_fit_the_module(tmp_path):
    data = bytearray(NAVANI.read_bytes())
    struct.pack_into("<I", data, _data_module_at(data) + 57, 46103)
    path = tmp_path / "count.mpr"
    path.write_bytes(bytes(data))

    with pytest.raises(ParseError, match=r"announces 46103 points of 53 bytes"):
        parse_file(path)


def test_file_without_data_module(tmp_path):
    data = NAVANI.read_bytes().replace(b"MODULEVMP data  ", b"MODULEVMP other ")
    path = tmp_path / "nodata.mpr"
    path.write_bytes(data)

    with pytest.raises(ParseError, match=r"without a data module \('VMP data'\); found VMP Set"):
        parse_file(path)
