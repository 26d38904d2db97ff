"""Instrument parsers on real exports (pure: no Django, no database).

The real files live in ``tests/data/instrument-files``; INDEX.md there
lists each one's origin (repository@commit, path, licence), repeated in the comments below.
Expected values were read from the files themselves (head/tail/awk), not from the parsers.
"""

from __future__ import annotations

import math
import pathlib
import random

import polars as pl
import pytest

from demo.synthetic.files import write_maccor_cycling
from measurements import canonical as c
from measurements.parsers import (
    PARSERS,
    ParsedData,
    ParseError,
    Parser,
    detect,
    get_parser,
    parse_file,
)
from measurements.parsers import generic_csv as generic
from measurements.parsers._common import KIND_COLUMNS
from tests.instrument_files import ROOT as INSTRUMENT_FILES

FILES = INSTRUMENT_FILES

# cellpy: jepegit/cellpy@c5d74b99b143 (MIT) testdata/data/ and examples/data/
MACCOR_001 = FILES / "cellpy/maccor_001.txt"
MACCOR_THREE = FILES / "cellpy/maccor_three.txt"
MACCOR_002 = FILES / "cellpy/maccor_002.txt"  # Rec/Cycle P/Cycle C/Md layout
BIOL_MPR = FILES / "cellpy/biol.mpr"
NDAX = FILES / "cellpy/20260302_IFE_BTS85_2_9_8_1.ndax"
ARBIN_RES = FILES / "cellpy/20160805_test001_45_cc_01.res"
# beep: TRI-AMDD/beep@decb02d4499a (Apache-2.0) beep/tests/test_files/
MACCOR_RAW = FILES / "beep/xTESLADIAG_000019_CH70.070"
BTLAB_CSV = FILES / "beep/test_loopsnewoutput_MB_CE1_short10k.csv"
# navani: the-grey-group/navani@922ffe190ae7 (MIT) Example_data/
NAVANI_MPR = FILES / "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
# impedance.py: ECSHackWeek/impedance.py@0b302ca9eabf (MIT) data/
MPT_PEIS = FILES / "impedance.py/exampleDataBioLogic.mpt"
ZPLOT = FILES / "impedance.py/exampleDataZPlot.z"
ZPLOT_CIRCUIT = FILES / "impedance.py/Circuit1_EIS_1.z"
GAMRY = FILES / "impedance.py/exampleDataGamry.DTA"
PLAIN_CSV = FILES / "impedance.py/exampleData.csv"
# datalab: datalab-org/datalab@770369348bf4 (MIT) pydatalab/example_data/
STARE_TGA = FILES / "datalab/mp2028_281122_LNO+C.txt"
XRD_XY = FILES / "datalab/example_ocx.xy"

DETECTED = {
    MACCOR_001: "maccor",
    MACCOR_THREE: "maccor",
    MACCOR_RAW: "maccor",
    MACCOR_002: "maccor_md",
    BIOL_MPR: "biologic_mpr",
    NAVANI_MPR: "biologic_mpr",
    NDAX: "neware_ndax",
    ARBIN_RES: "arbin_res",
    BTLAB_CSV: "biologic_btlab_csv",
    MPT_PEIS: "biologic_mpt",
    ZPLOT: "zplot",
    ZPLOT_CIRCUIT: "zplot",
    GAMRY: "gamry_dta",
    STARE_TGA: "tga_stare",
    XRD_XY: "xrd_xy",
}


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """Overrides the suite-wide Celery fixture: these tests touch neither Celery nor Django,
    so they run with ``-p no:django`` and without any settings."""
    yield


def _first(result: ParsedData) -> dict:
    return result.data.row(0, named=True)


def _last(result: ParsedData) -> dict:
    return result.data.row(-1, named=True)


def _lines(path: pathlib.Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# --- registry and the common contract ----------------------------------------------------


@pytest.mark.parametrize("path, name", DETECTED.items(), ids=lambda x: getattr(x, "name", x))
def test_detect_recognises_each_real_file(path, name):
    assert detect(path).name == name


@pytest.mark.parametrize("path", list(DETECTED), ids=lambda p: p.name)
def test_parse_file_returns_only_canonical_columns_with_their_dtypes(path):
    result = parse_file(path)

    assert result.data.columns == list(KIND_COLUMNS[result.kind])
    for name, dtype in result.data.schema.items():
        assert dtype == (pl.Int64 if name in (c.CYCLE, c.STEP) else pl.Float64), name
    assert result.metadata["row_count"] == result.data.height > 0
    assert result.metadata["parser"] == DETECTED[path]
    assert all(isinstance(v, str | int | float) for v in result.metadata.values())
    assert all(isinstance(w, str) for w in result.warnings)


def test_detection_reads_the_content_not_the_extension(tmp_path):
    # Three .txt files of different instruments, one upload field.
    renamed = {}
    for source in (MACCOR_THREE, STARE_TGA, MPT_PEIS):
        target = tmp_path / f"{source.stem}.txt"
        target.write_bytes(source.read_bytes())
        renamed[target] = source
    assert [detect(p).name for p in renamed] == ["maccor", "tga_stare", "biologic_mpt"]


def test_detect_accepts_the_first_bytes_and_the_upload_name():
    assert detect(MPT_PEIS.read_bytes()[:8192], "spectrum.mpt").name == "biologic_mpt"


def test_unrecognised_file_lists_the_supported_formats():
    with pytest.raises(ParseError, match="unrecognised file format") as info:
        detect(PLAIN_CSV)
    assert "Maccor text export" in str(info.value)
    assert "BioLogic EC-Lab ASCII (.mpt)" in str(info.value)


def test_empty_file_is_refused_by_detection_and_by_every_parser(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ParseError, match="empty"):
        parse_file(empty)
    for parser in PARSERS:
        with pytest.raises(ParseError):
            parser.parse(empty, options={"mapping": {"time_s": 0}})


def test_random_binary_is_refused_by_detection_and_by_every_parser(tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(random.Random(7).randbytes(20_000))
    with pytest.raises(ParseError, match="unrecognised"):
        parse_file(blob)
    for parser in PARSERS:
        with pytest.raises(ParseError):
            parser.parse(blob, options={"mapping": {"time_s": 0}})


def test_utf16_text_is_refused_as_binary(tmp_path):
    # Notepad's "Unicode" save: every other byte is NUL.
    path = tmp_path / "maccor_utf16.txt"
    path.write_bytes(MACCOR_THREE.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(ParseError):
        parse_file(path, parser_name="maccor")


def test_every_registered_parser_implements_the_protocol():
    assert all(isinstance(p, Parser) for p in PARSERS)
    assert len({p.name for p in PARSERS}) == len(PARSERS)


def test_get_parser_names_the_available_ones():
    assert get_parser("zplot").label.startswith("ZPlot")
    with pytest.raises(ParseError, match="available: biologic_mpr"):
        get_parser("arbin")


# --- Maccor --------------------------------------------------------------------------------


def test_maccor_three_milli_dialect_15_cycles():
    result = parse_file(MACCOR_THREE)
    data = result.data

    assert data.height == 4009
    assert sorted(data[c.CYCLE].unique()) == list(range(15))
    assert result.metadata["units_dialect"] == "mAmp-hr/mAmps"
    # Last line: 4009  14  6  3d 18:47:23.42 ... 822.3335 2293.5947 -896.0098 1300.0687 D
    last = _last(result)
    assert last[c.TIME_S] == pytest.approx(3 * 86400 + 18 * 3600 + 47 * 60 + 23.42)
    assert last[c.CURRENT_MA] == pytest.approx(-896.0098)  # already mA: no scaling
    assert last[c.STEP_CAPACITY_MAH] == pytest.approx(822.3335)
    assert last[c.STEP_ENERGY_MWH] == pytest.approx(2293.5947)
    assert (last[c.CYCLE], last[c.STEP]) == (14, 6)


def test_maccor_three_volts_column_in_millivolts_is_detected():
    # The file writes 1853.8186 under "Volts"; mWh/mAh of the same rows says ~2.8 V.
    result = parse_file(MACCOR_THREE)
    assert _first(result)[c.VOLTAGE_V] == pytest.approx(1.8538186)
    assert _last(result)[c.VOLTAGE_V] == pytest.approx(1.3000687)
    assert any("millivolts" in w for w in result.warnings)


def test_maccor_current_sign_follows_state():
    data = parse_file(MACCOR_THREE).data
    raw = pl.read_csv(MACCOR_THREE, separator="\t", skip_lines=4, columns=["State"])
    signed = data.with_columns(raw["State"])

    assert (signed.filter(pl.col("State") == "C")[c.CURRENT_MA] > 0).all()
    assert (signed.filter(pl.col("State") == "D")[c.CURRENT_MA] < 0).all()
    assert (signed.filter(pl.col("State") == "R")[c.CURRENT_MA] == 0).all()


def test_maccor_001_amp_hr_dialect_converted_to_milli_and_signed():
    result = parse_file(MACCOR_001)

    assert result.data.height == 6704
    assert result.metadata["units_dialect"] == "Amp-hr/Amps"
    assert result.metadata["preamble:Procedure"] == "M50_Validation.000"
    # Rec 3: "0d 00:00:5.05000019073486", Amp-hr 0.00000, Amps 0.50401 (unsigned), State D
    third = result.data.row(2, named=True)
    assert third[c.TIME_S] == pytest.approx(5.05000019073486)
    assert third[c.CURRENT_MA] == pytest.approx(-504.01)
    # Rec 4: Amp-hr 0.00060, Watt-hr 0.00203 -> 0.6 mAh, 2.03 mWh
    fourth = result.data.row(3, named=True)
    assert fourth[c.STEP_CAPACITY_MAH] == pytest.approx(0.6)
    assert fourth[c.STEP_ENERGY_MWH] == pytest.approx(2.03)
    # Last record is State O (other) with zero current, Step 24.
    assert _last(result)[c.CURRENT_MA] == 0.0
    assert _last(result)[c.STEP] == 24


def test_maccor_raw_export_with_seconds_and_crlf():
    result = parse_file(MACCOR_RAW)

    assert result.data.height == 11669
    assert result.metadata["time_format"] == "seconds"
    assert sorted(result.data[c.CYCLE].unique()) == [0, 1, 2]
    # Rec 3: Test (Sec) 5.0100, Amps -9.0750743877 (exported signed), Volts 3.26169223, D
    third = result.data.row(2, named=True)
    assert third[c.TIME_S] == pytest.approx(5.01)
    assert third[c.CURRENT_MA] == pytest.approx(-9075.0743877)
    assert third[c.VOLTAGE_V] == pytest.approx(3.26169223)
    assert _last(result)[c.TIME_S] == pytest.approx(136344.95)


def test_maccor_truncated_last_line_names_the_line(tmp_path):
    lines = _lines(MACCOR_THREE)
    path = tmp_path / "cut.txt"
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:40])

    with pytest.raises(ParseError, match=r"^line 4014: expected 13 columns, found 5"):
        parse_file(path)


def test_maccor_short_line_in_the_middle_names_the_line(tmp_path):
    lines = _lines(MACCOR_THREE)
    lines[811] = b"808\t2\t4\n"  # line 812
    path = tmp_path / "short.txt"
    path.write_bytes(b"".join(lines))

    with pytest.raises(ParseError, match=r"^line 812: expected 13 columns, found 3$"):
        parse_file(path)


def test_maccor_text_in_a_number_column_names_line_and_column(tmp_path):
    lines = _lines(MACCOR_THREE)
    fields = lines[99].split(b"\t")
    fields[8] = b"3.7O1"  # letter O typed for a zero, line 100
    lines[99] = b"\t".join(fields)
    path = tmp_path / "typo.txt"
    path.write_bytes(b"".join(lines))

    with pytest.raises(ParseError, match=r"^line 100: column 'Volts': '3.7O1' is not a number"):
        parse_file(path)


def test_maccor_header_without_rows(tmp_path):
    path = tmp_path / "header_only.txt"
    path.write_bytes(b"".join(_lines(MACCOR_THREE)[:5]))
    with pytest.raises(ParseError, match="no data rows"):
        parse_file(path)


def test_maccor_missing_state_column(tmp_path):
    text = MACCOR_THREE.read_text().replace("\tState\t", "\tStatus\t", 1)
    path = tmp_path / "nostate.txt"
    path.write_text(text)
    with pytest.raises(ParseError, match="column 'State' missing"):
        parse_file(path, parser_name="maccor")


def test_maccor_data_lines_ending_with_a_tab_the_header_lacks(tmp_path):
    lines = _lines(MACCOR_001)
    body = [x.rstrip(b"\r\n") + b"\t\r\n" for x in lines[4:]]
    path = tmp_path / "trailing.txt"
    path.write_bytes(b"".join(lines[:4] + body))

    assert parse_file(path).data.equals(parse_file(MACCOR_001).data)


def test_maccor_cp1252_preamble_still_parses(tmp_path):
    lines = _lines(MACCOR_THREE)
    lines[1] = "Comment:\tPellet Ø 12 mm, 25 °C, 3 µm\n".encode("cp1252")
    path = tmp_path / "cp1252.txt"
    path.write_bytes(b"".join(lines))

    result = parse_file(path)
    assert result.metadata["encoding"] == "cp1252"
    assert result.metadata["preamble:Comment"] == "Pellet Ø 12 mm, 25 °C, 3 µm"
    assert result.data.height == 4009


# --- synthetic Maccor (the benchmark's input) ---------------------------------------------


@pytest.mark.parametrize("milli", [True, False], ids=["mAmp-hr", "Amp-hr"])
def test_synthetic_maccor_round_trips_capacity_and_fade(tmp_path, milli):
    path = write_maccor_cycling(
        tmp_path / "synth.txt", n_cycles=6, rows_per_cycle=400, milli_units=milli
    )
    result = parse_file(path)
    steps = result.data.group_by(c.CYCLE, c.STEP, maintain_order=True).agg(
        pl.col(c.STEP_CAPACITY_MAH).last(), pl.col(c.CURRENT_MA).mean()
    )
    charge = steps.filter(pl.col(c.STEP) == 2)
    discharge = steps.filter(pl.col(c.STEP) == 4)
    mass_g = 3.054e-3

    assert result.data.height == 6 * 400
    assert charge[c.STEP_CAPACITY_MAH][0] / mass_g == pytest.approx(217.0, rel=1e-4)
    assert discharge[c.STEP_CAPACITY_MAH][0] / mass_g == pytest.approx(199.0, rel=1e-4)
    retention = discharge[c.STEP_CAPACITY_MAH][-1] / discharge[c.STEP_CAPACITY_MAH][0]
    assert retention == pytest.approx(0.827, rel=1e-4)
    assert (charge[c.CURRENT_MA] > 0).all() and (discharge[c.CURRENT_MA] < 0).all()
    assert result.data[c.VOLTAGE_V].min() > 2.95 and result.data[c.VOLTAGE_V].max() < 4.35
    assert result.data[c.TIME_S].diff().drop_nulls().min() >= 0


# --- BioLogic .mpt --------------------------------------------------------------------------


def test_mpt_peis_is_eis_with_negative_imaginary_part():
    result = parse_file(MPT_PEIS)

    assert result.kind == "eis"
    assert result.data.height == 43
    assert result.metadata["encoding"] == "cp1252"  # "Cs/µF" written as one byte
    assert result.metadata["technique"] == "Potentio Electrochemical Impedance Spectroscopy"
    assert result.metadata["characteristic_mass_mg"] == pytest.approx(1.0)  # "0.001 g"
    # First row: 1.0003201E+003  6.5470886E+001  3.8998979E-001 (-Im(Z))
    assert _first(result) == pytest.approx(
        {c.FREQUENCY_HZ: 1000.3201, c.Z_REAL_OHM: 65.470886, c.Z_IMAG_OHM: -0.38998979}
    )
    # Last row: 1.6895540E-002  1.1097003E+002  2.3458567E+000
    assert _last(result)[c.Z_IMAG_OHM] == pytest.approx(-2.3458567)


def _decimal_comma_copy(source: pathlib.Path, target: pathlib.Path, encoding: str) -> None:
    """The same export as a German Windows EC-Lab writes it: decimal comma after the header."""
    lines = source.read_bytes().decode("cp1252").splitlines(keepends=True)
    n_header = 61
    body = [x.replace(".", ",") for x in lines[n_header:]]
    target.write_bytes("".join(lines[:n_header] + body).encode(encoding))


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8"])
def test_mpt_decimal_comma_gives_the_same_numbers(tmp_path, encoding):
    path = tmp_path / "komma.mpt"
    _decimal_comma_copy(MPT_PEIS, path, encoding)

    original, comma = parse_file(MPT_PEIS), parse_file(path)

    assert comma.metadata["decimal_separator"] == ","
    assert comma.metadata["encoding"] == encoding
    assert comma.data.equals(original.data)


def _gcpl_mpt(path: pathlib.Path, decimal: str = ".") -> None:
    """A small GCPL export in EC-Lab's layout: rest, charge, discharge; two cycles."""
    names = "mode\tox/red\terror\tNs\ttime/s\tEwe/V\tI/mA\tdq/mA.h\t(Q-Qo)/mA.h\tcycle number"
    rows = []
    q = 0.0
    t = 0.0
    for cycle in (0, 1):
        for ns, current in ((0, 0.0), (1, 0.5), (2, -0.5)):
            for _ in range(5):
                t += 360.0
                dq = current * 0.1  # 360 s at I mA = I/10 mAh
                q += dq
                volts = 3.0 + 0.1 * ns
                rows.append(
                    f"1\t1\t0\t{ns}\t{t:.3f}\t{volts:.4f}\t{current:.4f}\t{dq:.6f}\t{q:.6f}\t{cycle:.1f}"
                )
    header = [
        "EC-Lab ASCII FILE",
        "Nb header lines : 5",
        "",
        "Galvanostatic Cycling with Potential Limitation",
        names,
    ]
    text = "\n".join(header + rows) + "\n"
    if decimal == ",":
        head, body = text.split(names)
        text = head + names + body.replace(".", ",")
    path.write_text(text, encoding="cp1252")


def test_mpt_gcpl_is_cycling_with_step_capacity_reset_at_each_ns(tmp_path):
    path = tmp_path / "gcpl.mpt"
    _gcpl_mpt(path)
    result = parse_file(path)
    data = result.data

    assert result.kind == "cycling"
    assert data.height == 30
    assert data[c.CYCLE].unique().sort().to_list() == [0, 1]
    ends = data.group_by(c.CYCLE, c.STEP, maintain_order=True).agg(
        pl.col(c.STEP_CAPACITY_MAH).last()
    )
    # 5 points x 0.05 mAh per charge or discharge step, 0 on rest.
    assert ends[c.STEP_CAPACITY_MAH].to_list() == pytest.approx([0, 0.25, 0.25, 0, 0.25, 0.25])
    assert _last(result)[c.CURRENT_MA] == -0.5


def test_mpt_gcpl_decimal_comma(tmp_path):
    point, comma = tmp_path / "p.mpt", tmp_path / "c.mpt"
    _gcpl_mpt(point)
    _gcpl_mpt(comma, decimal=",")
    assert parse_file(comma).data.equals(parse_file(point).data)


def test_mpt_without_header_count(tmp_path):
    path = tmp_path / "bad.mpt"
    path.write_bytes(MPT_PEIS.read_bytes().replace(b"Nb header lines", b"Nb lignes", 1))
    with pytest.raises(ParseError, match="missing 'Nb header lines'"):
        parse_file(path, parser_name="biologic_mpt")


def test_mpt_truncated_row_names_the_line(tmp_path):
    lines = _lines(MPT_PEIS)
    path = tmp_path / "cut.mpt"
    path.write_bytes(b"".join(lines[:70]) + lines[70][:30])
    with pytest.raises(ParseError, match=r"^line 71: expected 18 columns"):
        parse_file(path)


def test_mpt_header_without_rows(tmp_path):
    path = tmp_path / "header_only.mpt"
    path.write_bytes(b"".join(_lines(MPT_PEIS)[:61]))
    with pytest.raises(ParseError, match="no data rows"):
        parse_file(path)


# --- BioLogic .mpr --------------------------------------------------------------------------


def test_mpr_modular_file_reads_as_cycling_and_reports_the_impedance_rows():
    result = parse_file(BIOL_MPR)

    assert result.kind == "cycling"
    assert result.data.height == 23561 - 310
    assert result.metadata["file_row_count"] == 23561
    assert any("310 impedance points" in w for w in result.warnings)
    assert result.data[c.CURRENT_MA].max() == pytest.approx(0.3252074, rel=1e-6)
    assert result.data[c.STEP_CAPACITY_MAH].max() == pytest.approx(1.2987, abs=1e-3)


def test_mpr_impedance_rows_on_request():
    result = parse_file(BIOL_MPR, options={"kind": "eis"})

    assert result.kind == "eis"
    assert result.data.height == 310
    assert _first(result)[c.FREQUENCY_HZ] == pytest.approx(100019.5078125)
    # Capacitive arc: Z'' < 0 at low frequency.
    assert _last(result)[c.Z_IMAG_OHM] < 0
    modulus = math.hypot(_last(result)[c.Z_REAL_OHM], _last(result)[c.Z_IMAG_OHM])
    assert modulus == pytest.approx(100.25318, rel=1e-5)


def test_mpr_without_current_column_derives_it_from_dq():
    result = parse_file(NAVANI_MPR)
    data = result.data
    steps = data.group_by(c.CYCLE, c.STEP, maintain_order=True).agg(
        pl.col(c.CURRENT_MA).median(), pl.col(c.STEP_CAPACITY_MAH).last()
    )

    assert data.height == 46102
    # Programmed current +-0.088796 mA (control/V/mA); dq/dt gives it back.
    assert steps.filter(pl.col(c.STEP) == 2)[c.CURRENT_MA].to_list() == pytest.approx(
        [0.0888] * 6, rel=2e-3
    )
    # First charge: "Q charge/discharge/mA.h" at the end of half cycle 2 is 0.98678136.
    assert steps.row(2, named=True)[c.STEP_CAPACITY_MAH] == pytest.approx(0.986781, rel=1e-5)
    assert result.metadata["cycle_source"] == "half cycle // 2"


def test_mpr_truncated_is_a_parse_error(tmp_path):
    path = tmp_path / "cut.mpr"
    path.write_bytes(NAVANI_MPR.read_bytes()[:1_000_000])
    with pytest.raises(ParseError, match="BioLogic .mpr"):
        parse_file(path)


# --- ZPlot and Gamry ----------------------------------------------------------------------


def test_zplot_spectrum_and_announced_point_count():
    result = parse_file(ZPLOT)

    assert result.data.height == 21
    # 3.000000E+05 ... Z' 1.4777E+02, Z'' -1.1335E+01
    assert _first(result) == pytest.approx(
        {c.FREQUENCY_HZ: 3.0e5, c.Z_REAL_OHM: 147.77, c.Z_IMAG_OHM: -11.335}
    )
    assert _last(result) == pytest.approx(
        {c.FREQUENCY_HZ: 3000.0, c.Z_REAL_OHM: 613.68, c.Z_IMAG_OHM: -137.13}
    )
    assert any("announces 56 data points" in w for w in result.warnings)


def test_zplot_circuit_file_and_its_comma_separated_twin(tmp_path):
    original = parse_file(ZPLOT_CIRCUIT)
    text = ZPLOT_CIRCUIT.read_text()
    head, body = text.split("End Comments\n")
    path = tmp_path / "circuit.z"
    path.write_text(head + "End Comments\n" + body.replace("\t", ","))

    assert original.data.height == 48
    assert _last(original)[c.Z_REAL_OHM] == pytest.approx(75.803)
    assert parse_file(path).data.equals(original.data)


def test_zplot_without_end_of_header(tmp_path):
    path = tmp_path / "x.z"
    path.write_text(ZPLOT.read_text().replace("End Comments", "Comments"))
    with pytest.raises(ParseError, match="'End Comments'"):
        parse_file(path, parser_name="zplot")


def test_gamry_zcurve():
    result = parse_file(GAMRY)

    assert result.data.height == 72
    assert _first(result) == pytest.approx(
        {c.FREQUENCY_HZ: 200015.6, c.Z_REAL_OHM: 825.8584, c.Z_IMAG_OHM: -1367.239}
    )
    assert _last(result) == pytest.approx(
        {c.FREQUENCY_HZ: 0.0158898, c.Z_REAL_OHM: 17007.49, c.Z_IMAG_OHM: -6635.557}
    )
    assert result.metadata["header:PSTAT"] == "REF3000-34128"


def test_gamry_without_impedance_table(tmp_path):
    path = tmp_path / "cv.DTA"
    path.write_bytes(GAMRY.read_bytes().replace(b"ZCURVE\tTABLE", b"CURVE\tTABLE"))
    with pytest.raises(ParseError, match="no ZCURVE table .*tables: OCVCURVE, CURVE"):
        parse_file(path)


# --- Neware ---------------------------------------------------------------------------------


def test_neware_ndax_largest_real_file():
    result = parse_file(NDAX)
    data = result.data

    assert data.height == 252951
    assert data[c.CYCLE].unique().to_list() == [1]
    assert data[c.STEP].unique().sort().to_list() == [1, 2, 3, 4, 5]
    assert data[c.TIME_S].diff().drop_nulls().min() >= 0
    last = _last(result)
    assert last[c.VOLTAGE_V] == pytest.approx(4.748331, rel=1e-6)
    assert last[c.CURRENT_MA] == pytest.approx(1.935565, rel=1e-6)
    assert last[c.STEP_CAPACITY_MAH] == pytest.approx(1390.5748, rel=1e-6)
    # The tester clock is re-synchronised 8 times: time is built from step times instead.
    assert result.metadata["time_source"] == "sum of step times"


def test_neware_truncated_archive(tmp_path):
    path = tmp_path / "cut.ndax"
    path.write_bytes(NDAX.read_bytes()[:500_000])
    with pytest.raises(ParseError, match="Neware"):
        parse_file(path)


# --- BioLogic BT-Lab csv ----------------------------------------------------------------------


def test_btlab_csv_is_detected_and_dates_become_seconds():
    result = parse_file(BTLAB_CSV)
    data = result.data

    assert result.kind == "cycling"
    assert data.height == 9999
    assert data[c.CYCLE].unique().sort().to_list() == [0, 1, 2]
    assert result.metadata["time_format"].startswith("date-time %m/%d/%Y")
    # Rows 1-2: 05/05/2021 15:36:22.757 then 15:36:45.513; Ecell 3.81503248214722 V.
    assert _first(result)[c.VOLTAGE_V] == pytest.approx(3.81503248214722)
    assert data[c.TIME_S][1] == pytest.approx(22.756)
    assert data[c.CURRENT_MA][1] == pytest.approx(2493.26220703125)
    assert result.metadata["original_columns"].count("°C") >= 2  # "Â°C" repaired


# --- generic delimited text -------------------------------------------------------------------


def test_generic_csv_needs_a_mapping():
    with pytest.raises(ParseError, match="needs a column mapping; detected columns: column_1"):
        parse_file(PLAIN_CSV, parser_name="generic_csv")


def test_generic_csv_headerless_eis_with_mapping():
    result = parse_file(
        PLAIN_CSV,
        parser_name="generic_csv",
        options={"mapping": {"frequency_Hz": 0, "z_real_ohm": 1, "z_imag_ohm": 2}},
    )

    assert result.kind == "eis"
    assert result.data.height == 66
    # 3.162299999999999833e-03,4.949989776405060160e-02,-2.043869854441892481e-02
    assert _first(result) == pytest.approx(
        {
            c.FREQUENCY_HZ: 3.1623e-3,
            c.Z_REAL_OHM: 0.0494998977640506,
            c.Z_IMAG_OHM: -0.0204386985444189,
        }
    )


def test_generic_preview_and_suggestions_on_a_btlab_export():
    preview = generic.preview(BTLAB_CSV, n=3)

    assert preview["delimiter"] == ";"
    assert preview["decimal"] == "."
    assert preview["header"] is True
    assert len(preview["rows"]) == 3
    assert preview["suggested_kind"] == "cycling"
    assert preview["suggested_mapping"][c.VOLTAGE_V] == "Ecell/V"
    assert preview["suggested_mapping"][c.CURRENT_MA] == "I/mA"
    assert preview["suggested_mapping"][c.TIME_S] == "time/s"


def test_suggest_mapping_and_units_from_common_names():
    columns = ["Time (min)", "U (V)", "I (A)", "Cycle", "Capacity (Ah)"]
    mapping = generic.suggest_mapping(columns)

    assert mapping == {
        c.TIME_S: "Time (min)",
        c.VOLTAGE_V: "U (V)",
        c.CURRENT_MA: "I (A)",
        c.CYCLE: "Cycle",
        c.STEP_CAPACITY_MAH: "Capacity (Ah)",
    }
    assert generic.suggest_units(mapping) == {
        c.TIME_S: 60.0,
        c.CURRENT_MA: 1000.0,
        c.STEP_CAPACITY_MAH: 1000.0,
    }


def test_generic_csv_with_decimal_comma_preamble_and_scale_factors(tmp_path):
    path = tmp_path / "potentiostat.csv"
    path.write_text(
        "Instrument;XYZ-100\nOperator;ana\n"
        "Zeit [s];U [V];I [A]\n"
        "0,0;3,100;0,001\n10,0;3,200;0,001\n20,0;3,300;-0,002\n",
        encoding="cp1252",
    )
    options = {
        "mapping": {"time_s": "Zeit [s]", "voltage_V": "U [V]", "current_mA": "I [A]"},
        "units": {"current_mA": 1000},
    }
    result = parse_file(path, parser_name="generic_csv", options=options)

    assert result.kind == "cycling"
    assert result.metadata["decimal_separator"] == ","
    assert result.data[c.CURRENT_MA].to_list() == pytest.approx([1.0, 1.0, -2.0])
    assert result.data[c.VOLTAGE_V].to_list() == pytest.approx([3.1, 3.2, 3.3])
    assert result.data[c.CYCLE].null_count() == 3


def test_generic_csv_errors_name_the_column_and_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("t,V,I\n0,3.1,1\n1,3.2,one\n")
    mapping = {"time_s": "t", "voltage_V": "V", "current_mA": "I"}

    with pytest.raises(
        ParseError, match=r"^line 3: column 'I' \(for current_mA\): 'one' is not a number"
    ):
        parse_file(path, parser_name="generic_csv", options={"mapping": mapping})
    with pytest.raises(ParseError, match="column 'Volts' missing; detected columns: t, V, I"):
        parse_file(
            path, parser_name="generic_csv", options={"mapping": {**mapping, "voltage_V": "Volts"}}
        )
    with pytest.raises(ParseError, match="'volts' is not a canonical cycling column"):
        parse_file(path, parser_name="generic_csv", options={"mapping": {**mapping, "volts": "V"}})


# --- TGA and XRD ------------------------------------------------------------------------------


def test_stare_tga():
    result = parse_file(STARE_TGA)
    data = result.data

    assert result.kind == "tga"
    assert data.height == 4051
    assert result.metadata["encoding"] == "cp1252"
    assert result.metadata["sample_mass_mg"] == 4.1752
    # First row: 0  0  21.0052  25  4.17537; last: 4050  4050  691.76  700  4.18524
    assert _first(result) == pytest.approx(
        {c.TIME_S: 0.0, c.TEMPERATURE_C: 21.0052, c.MASS_MG: 4.17537, c.MASS_PCT: 100.0}
    )
    assert _last(result)[c.TEMPERATURE_C] == pytest.approx(691.76)
    assert _last(result)[c.MASS_PCT] == pytest.approx(4.18524 / 4.17537 * 100)


def test_ta_trios_style_tga_in_minutes_and_percent(tmp_path):
    path = tmp_path / "lagp_tga.txt"
    path.write_text(
        "Filename\tC:\\TA\\Data\\LAGP_batch7.tri\nInstrument\tTGA 5500\nSize\t12.3450 mg\n\n"
        "Time (min)\tTemperature (°C)\tWeight (%)\n"
        "0.000\t25.00\t100.000\n1.000\t35.00\t99.9595\n2.500\t50.00\t99.6355\n",
        encoding="cp1252",
    )
    result = parse_file(path)

    assert result.metadata["parser"] == "tga_trios"
    assert result.metadata["sample_mass_mg"] == 12.345
    assert result.data[c.TIME_S].to_list() == pytest.approx([0.0, 60.0, 150.0])
    assert result.data[c.MASS_PCT].to_list() == pytest.approx([100.0, 99.9595, 99.6355])
    assert result.data[c.MASS_MG].null_count() == 3


def test_ta_tga_with_unit_row_and_mass_in_mg(tmp_path):
    path = tmp_path / "trios.csv"
    path.write_text(
        "Time,Temperature,Weight\nmin,°C,mg\n0,25,10.0\n10,125,9.5\n20,225,9.0\n", encoding="utf-8"
    )
    result = parse_file(path)

    assert result.data[c.TIME_S].to_list() == [0.0, 600.0, 1200.0]
    assert result.data[c.MASS_PCT].to_list() == pytest.approx([100.0, 95.0, 90.0])


def test_xrd_xy():
    result = parse_file(XRD_XY)

    assert result.kind == "xrd"
    assert result.data.height == 1876
    assert _first(result) == pytest.approx({c.TWO_THETA_DEG: 5.0, c.INTENSITY: 2.732})
    assert _last(result) == pytest.approx({c.TWO_THETA_DEG: 80.0, c.INTENSITY: 0.272})


# --- robustness: every damaged file gives a ParseError or a result, nothing else ------------

_FUZZ_FILES = [p for p in DETECTED if p is not NDAX]


def _mutations(data: bytes, rng: random.Random, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        cut = rng.randrange(1, len(data))
        out.append(data[:cut])  # truncated upload
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        out.append(bytes(flipped))  # bit rot / wrong bytes
    return out


def assert_parses_or_refuses(path: pathlib.Path, parser_name: str) -> None:
    """A damaged file, read by its parser and by detection: canonical data or a ParseError
    with a message, never another exception."""
    for kwargs in ({"parser_name": parser_name}, {}):
        try:
            result = parse_file(path, **kwargs)
        except ParseError as exc:
            assert str(exc)
        else:
            assert result.data.columns == list(KIND_COLUMNS[result.kind])


@pytest.mark.parametrize("source", _FUZZ_FILES, ids=lambda p: p.name)
def test_damaged_files_raise_only_parse_errors(tmp_path, source):
    rng = random.Random(source.name)
    name = DETECTED[source]
    for index, content in enumerate(_mutations(source.read_bytes(), rng, 8)):
        path = tmp_path / f"{index}{source.suffix}"
        path.write_bytes(content)
        assert_parses_or_refuses(path, name)


def test_damaged_ndax_raises_only_parse_errors(tmp_path):
    data = NDAX.read_bytes()
    for index, cut in enumerate((100, 50_000, 700_000, len(data) - 10)):
        path = tmp_path / f"{index}.ndax"
        path.write_bytes(data[:cut])
        with pytest.raises(ParseError):
            parse_file(path)


def test_maccor_times_in_another_layout_further_down_still_parse(tmp_path):
    lines = _lines(MACCOR_THREE)
    fields = lines[6].split(b"\t")  # Rec 2, TestTime "  0d 00:01:00.00"
    fields[3] = b"0d 0:1:0.5"
    lines[6] = b"\t".join(fields)
    path = tmp_path / "layout.txt"
    path.write_bytes(b"".join(lines))

    times = parse_file(path).data[c.TIME_S]
    assert times[1] == pytest.approx(60.5)
    reference = parse_file(MACCOR_THREE).data[c.TIME_S].to_list()
    assert times.to_list()[2:] == pytest.approx(reference[2:], abs=1e-9)


def test_maccor_unreadable_time_names_the_line(tmp_path):
    lines = _lines(MACCOR_THREE)
    fields = lines[9].split(b"\t")
    fields[3] = b"  0d 00:0x:00.00"
    lines[9] = b"\t".join(fields)
    path = tmp_path / "badtime.txt"
    path.write_bytes(b"".join(lines))

    with pytest.raises(ParseError, match=r"^line 10: column 'TestTime': cannot read time"):
        parse_file(path)
