"""VersaStudio .par, PalmSens .pssession and Ivium .idf impedance parsers on real files.

Files (origins and licences in tests/data/instrument-files/INDEX.md):
- impedance.py/exampleDataVersaStudio.par: ECSHackWeek/impedance.py@0b302ca9eabf (MIT)
- impedance.py/exampleDataIvium.idf: ECSHackWeek/impedance.py@cf2b18ea841d (MIT; PR #294)
- palmsens/*.pssession: PalmSens/palmsens-sdk@39c885dbc286 (BSD-3-Clause)

Expected values were read from the files themselves (sed/grep on the text, a JSON dump of the
sessions), not from the parsers; the line numbers are the files' own.
"""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from measurements import canonical as c
from measurements.parsers import (
    ParseError,
    check_options,
    detect,
    get_parser,
    parse_file,
)
from measurements.parsers._common import KIND_COLUMNS
from measurements.parsers._spectra import split_sweeps
from tests.instrument_files import instrument_file
from tests.measurements.test_parsers import assert_parses_or_refuses

VERSASTUDIO = instrument_file("impedance.py/exampleDataVersaStudio.par")
IVIUM = instrument_file("impedance.py/exampleDataIvium.idf")
PALMSENS_5 = instrument_file("palmsens/eis_5freq.pssession")
PALMSENS_DEMO = instrument_file("palmsens/Demo CV DPV EIS IS-C electrode.pssession")
PALMSENS_3CH = instrument_file("palmsens/eis_3ch_4scan_5freq.pssession")

DETECTED = {
    VERSASTUDIO: "versastudio_par",
    IVIUM: "ivium_idf",
    PALMSENS_5: "palmsens_pssession",
    PALMSENS_DEMO: "palmsens_pssession",
    PALMSENS_3CH: "palmsens_pssession",
}
READABLE = [VERSASTUDIO, IVIUM, PALMSENS_5, PALMSENS_DEMO]


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """No Celery, no Django: these tests are pure."""
    yield


def _row(data: pl.DataFrame, index: int) -> dict:
    return data.row(index, named=True)


def _spectrum(f: float, re: float, im: float) -> dict:
    return pytest.approx({c.FREQUENCY_HZ: f, c.Z_REAL_OHM: re, c.Z_IMAG_OHM: im}, rel=1e-9)


# --- registry --------------------------------------------------------------------------------


@pytest.mark.parametrize("path, name", DETECTED.items(), ids=lambda x: getattr(x, "name", x))
def test_detected_from_content_under_any_name(path, name, tmp_path):
    assert detect(path).name == name
    assert detect(path.read_bytes()[:8192], "upload.txt").name == name
    renamed = tmp_path / "spectrum.dat"
    renamed.write_bytes(path.read_bytes())
    assert detect(renamed).name == name


@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_canonical_eis_columns_and_metadata(path):
    result = parse_file(path)

    assert result.kind == "eis"
    assert result.data.columns == list(KIND_COLUMNS["eis"])
    assert all(dtype == pl.Float64 for dtype in result.data.schema.values())
    assert result.data.null_count().sum_horizontal().item() == 0
    assert result.metadata["row_count"] == result.data.height > 0
    assert result.metadata["parser"] == DETECTED[path]
    assert all(isinstance(v, str | int | float) for v in result.metadata.values())


def test_spectrum_option_is_known_to_the_registry():
    assert check_options("palmsens_pssession", {"spectrum": 2}) == []
    assert check_options("versastudio_par", {"spectrum": 0}) == [
        "spectrum: must be a whole number from 1 to 10000"
    ]
    assert check_options("", {"spectrum": 1}) == []  # format detected later
    assert check_options("ivium_idf", {"spectrum": 1})[0].startswith("spectrum: not an option")


# --- VersaStudio .par ------------------------------------------------------------------------


def test_versastudio_segment_read_by_column_name():
    result = parse_file(VERSASTUDIO)
    data = result.data

    assert data.height == 61  # lines 117-177 between <Segment1> and </Segment1>
    # line 117: ...,0,100000,...,55.31571,4.575431,...  (inductive above 60 kHz: Z'' > 0)
    assert _row(data, 0) == _spectrum(100000, 55.31571, 4.575431)
    # line 153: Frequency(Hz) 10, Z Real 139.6575, Z Imag -141.2555
    assert _row(data, 36) == _spectrum(10, 139.6575, -141.2555)
    # line 177
    assert _row(data, -1) == _spectrum(0.02154435, 1516.313, -122.8279)
    meta = result.metadata
    assert meta["header:Instrument.Type"] == "VersaSTAT4"
    assert meta["header:Name"] == "Potentiostatic EIS"
    assert meta["header:Working Electrode Area (cm2)"] == "1"
    assert meta["spectrum"] == "Segment1 (line 113)"
    # Definition= ends with ", 0", which is not a column of the rows.
    assert meta["original_columns"].endswith("ActionId; AC Amplitude")
    # The method asked for 0.001 Hz; the recording stops at 0.0215 Hz.
    assert result.warnings == [
        "the sweep ends at 0.0215444 Hz, the method's end frequency is 0.001 Hz "
        "(sweep stopped early?)"
    ]


def _par_lines() -> list[str]:
    return VERSASTUDIO.read_text(encoding="utf-8").splitlines(keepends=True)


def test_versastudio_cut_short_names_the_open_segment(tmp_path):
    path = tmp_path / "cut.par"
    path.write_text("".join(_par_lines()[:150]), encoding="utf-8")
    with pytest.raises(ParseError, match="Segment1 has no closing </Segment1>") as info:
        parse_file(path)
    assert info.value.line == 113


def test_versastudio_short_row_names_its_line(tmp_path):
    lines = _par_lines()
    lines[139] = lines[139].split(",", 5)[0] + ",1,2\n"  # line 140
    path = tmp_path / "ragged.par"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ParseError, match="expected 24 columns, found 3") as info:
        parse_file(path)
    assert info.value.line == 140


def test_versastudio_text_in_z_real_names_line_and_column(tmp_path):
    lines = _par_lines()
    lines[120] = lines[120].replace("60.96293", "n/a")  # line 121
    path = tmp_path / "text.par"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ParseError, match="column 'Z Real': 'n/a' is not a number") as info:
        parse_file(path)
    assert info.value.line == 121


def test_versastudio_without_impedance_columns(tmp_path):
    path = tmp_path / "cv.par"
    path.write_text(
        VERSASTUDIO.read_text(encoding="utf-8").replace("Z Real, Z Imag,", "X, Y,"),
        encoding="utf-8",
    )
    with pytest.raises(ParseError, match="no segment has the columns .*Segment1 \\(line 113\\)"):
        parse_file(path)


def test_versastudio_two_impedance_segments_need_a_choice(tmp_path):
    lines = _par_lines()
    second = ["<Segment2>\n", *lines[113:116]] + [
        line.replace(",139.6575,", ",239.6575,") for line in lines[116:177]
    ]
    path = tmp_path / "two.par"
    path.write_text("".join([*lines[:178], *second, "</Segment2>\n", *lines[178:]]))

    with pytest.raises(ParseError, match="holds 2 impedance spectra") as info:
        parse_file(path)
    assert "1 = Segment1 (line 113) (61 frequencies); 2 = Segment2 (line 179)" in str(info.value)
    assert '"spectrum"' in str(info.value)
    first = parse_file(path, options={"spectrum": 1})
    second = parse_file(path, options={"spectrum": 2})
    assert _row(first.data, 36)[c.Z_REAL_OHM] == 139.6575
    assert _row(second.data, 36)[c.Z_REAL_OHM] == 239.6575
    assert second.metadata["spectrum"] == "Segment2 (line 179)"
    with pytest.raises(ParseError, match="3 asked for, but this VersaStudio file holds only 2"):
        parse_file(path, options={"spectrum": 3})


# --- Ivium .idf ---------------------------------------------------------------------------


def test_ivium_primary_data():
    result = parse_file(IVIUM)
    data = result.data

    assert data.height == 26  # "26" on line 127, rows on lines 128-153
    assert _row(data, 0) == _spectrum(1.0e5, 13.7548, -1.87976)  # line 128
    assert _row(data, 16) == _spectrum(63.0957, 51.1506, -20.7371)  # line 144
    assert _row(data, -1) == _spectrum(1.0, 92.8463, -16.7393)  # line 153
    meta = result.metadata
    assert meta["header:Method"] == "Impedance"
    assert meta["header:Technique"] == "Constant I"
    assert meta["header:serialnumber"] == "B59340"
    assert meta["header:starttime"] == "12/12/2022 5:18:49 PM"


def test_ivium_same_layout_saved_as_ids(tmp_path):
    path = tmp_path / "run.ids"
    path.write_bytes(IVIUM.read_bytes())
    assert parse_file(path).data.equals(parse_file(IVIUM).data)


def test_ivium_cut_short_inside_the_rows(tmp_path):
    data = IVIUM.read_bytes()
    cut = data.index(b"7.40983E+01")  # row 21 (line 148)
    path = tmp_path / "cut.idf"
    path.write_bytes(data[:cut])
    with pytest.raises(ParseError, match="announces 26 rows, found 20 .file cut short") as info:
        parse_file(path)
    assert info.value.line == 148


def test_ivium_columns_in_another_order_are_refused(tmp_path):
    data = IVIUM.read_bytes()
    # Swap Z' and frequency in the first row (line 128).
    row = b"1.37548E+01  -1.87976E+00 1.00000E+05 "
    path = tmp_path / "swapped.idf"
    path.write_bytes(data.replace(row, b"1.00000E+05  -1.87976E+00 1.37548E+01 ", 1))
    with pytest.raises(ParseError, match="columns are not Z', Z'', frequency") as info:
        parse_file(path)
    assert info.value.line == 128


def test_ivium_text_in_a_row_names_line_and_column(tmp_path):
    path = tmp_path / "text.idf"
    path.write_bytes(IVIUM.read_bytes().replace(b"-2.07371E+01", b"-2.07371X+01", 1))
    with pytest.raises(ParseError, match="column 'Z''': '-2.07371X\\+01' is not a number") as info:
        parse_file(path)
    assert info.value.line == 144


def test_ivium_other_technique_is_refused(tmp_path):
    path = tmp_path / "cv.idf"
    path.write_bytes(IVIUM.read_bytes().replace(b"Method=Impedance", b"Method=CyclicVoltammetry"))
    with pytest.raises(ParseError, match="'CyclicVoltammetry' run, not an impedance spectrum"):
        parse_file(path)


# --- PalmSens .pssession -------------------------------------------------------------------


def test_palmsens_zim_is_minus_z_imag_and_is_negated():
    result = parse_file(PALMSENS_5)
    data = result.data

    # Frequency / ZRe / ZIm arrays of the session (ZIm is -Z'': positive, phase +3.25 .. +64 deg)
    assert data.height == 5
    assert _row(data, 0) == _spectrum(200000.0, 569.666, -32.340022)
    assert _row(data, 2) == _spectrum(2000.0, 1097.24, -2260.43)
    assert _row(data, 4) == _spectrum(19.999998, 10603.932, -405.591)
    assert (data[c.Z_IMAG_OHM] < 0).all()
    assert result.metadata["header:CoreVersion"] == "5.11.1006.0"


def test_palmsens_older_lower_case_session_with_cv_and_dpv():
    # PSTrace 5.7: lower-case keys; the EIS measurement is the third of three (DPV, CV, EIS).
    result = parse_file(PALMSENS_DEMO)
    data = result.data

    assert data.height == 71
    assert _row(data, 0) == _spectrum(1e6, 112.354, -29.8389)
    assert _row(data, -1) == _spectrum(0.1, 14895.7, -3269.04)
    assert result.metadata["spectrum"] == "'Impedance Spectroscopy [2]'"
    assert result.metadata["header:CoreVersion"] == "5.7.2001.19388"


def test_palmsens_multichannel_session_is_refused():
    with pytest.raises(ParseError, match="multichannel recording .3 curves: CH 3: E dc scan"):
        parse_file(PALMSENS_3CH)


def _session(document: dict) -> bytes:
    return b"\xff\xfe" + json.dumps(document).encode("utf-16-le") + b"\xff\xfe"


def _document(path) -> dict:
    text = path.read_bytes().decode("utf-16")
    return json.loads(text.rstrip("\ufeff"))


def test_palmsens_two_spectra_need_a_choice(tmp_path):
    document = _document(PALMSENS_5)
    second = json.loads(json.dumps(document["Measurements"][0]))
    second["Title"] = "After cycling"
    for array in second["DataSet"]["Values"]:
        if array["Description"] == "ZRe":
            array["DataValues"][0]["V"] = 600.0
    document["Measurements"].append(second)
    path = tmp_path / "two.pssession"
    path.write_bytes(_session(document))

    with pytest.raises(ParseError, match="holds 2 impedance spectra") as info:
        parse_file(path)
    assert "2 = 'After cycling' (5 frequencies)" in str(info.value)
    assert _row(parse_file(path, options={"spectrum": 1}).data, 0)[c.Z_REAL_OHM] == 569.666
    assert _row(parse_file(path, options={"spectrum": 2}).data, 0)[c.Z_REAL_OHM] == 600.0


def test_palmsens_repeated_scans_in_one_data_set_are_separate_spectra(tmp_path):
    document = _document(PALMSENS_5)
    for array in document["Measurements"][0]["DataSet"]["Values"]:
        array["DataValues"] = array["DataValues"] * 2
    document["Measurements"][0]["EISDataList"] = []
    path = tmp_path / "repeat.pssession"
    path.write_bytes(_session(document))

    with pytest.raises(ParseError, match="'Impedance Spectroscopy' scan 2 \\(5 frequencies\\)"):
        parse_file(path)
    assert parse_file(path, options={"spectrum": 2}).data.equals(parse_file(PALMSENS_5).data)


def test_palmsens_prefixed_unit_is_refused_not_misread(tmp_path):
    document = _document(PALMSENS_5)
    for array in document["Measurements"][0]["DataSet"]["Values"]:
        if array["Description"] == "ZRe":
            array["Unit"]["Type"] = "PalmSens.Units.KiloOhm"
    path = tmp_path / "kohm.pssession"
    path.write_bytes(_session(document))
    with pytest.raises(ParseError, match="ZRe is in unit 'palmsens.units.kiloohm'"):
        parse_file(path)


def test_palmsens_session_without_impedance(tmp_path):
    document = _document(PALMSENS_DEMO)
    document["measurements"] = document["measurements"][:2]  # DPV and CV only
    path = tmp_path / "cv.pssession"
    path.write_bytes(_session(document))
    with pytest.raises(ParseError, match="holds no impedance spectrum"):
        parse_file(path)


def test_palmsens_cut_short(tmp_path):
    path = tmp_path / "cut.pssession"
    path.write_bytes(PALMSENS_5.read_bytes()[:30_000])
    with pytest.raises(ParseError, match="not valid JSON .* damaged or cut short"):
        parse_file(path)


def test_other_utf16_text_is_not_taken_for_a_session(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes('{"Type": "something else"}'.encode("utf-16"))
    with pytest.raises(ParseError, match="unrecognised file format"):
        parse_file(path)
    with pytest.raises(ParseError, match="not a PalmSens session file"):
        parse_file(path, parser_name="palmsens_pssession")


def test_split_sweeps():
    assert split_sweeps([]) == []
    assert split_sweeps([5.0]) == [(0, 1)]
    assert split_sweeps([100, 10, 1, 100, 10, 1]) == [(0, 3), (3, 6)]
    assert split_sweeps([1, 10, 100, 1, 10]) == [(0, 3), (3, 5)]
    assert split_sweeps([100, 10, 10, 1]) == [(0, 2), (2, 4)]


# --- robustness -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(DETECTED), ids=lambda p: p.name)
def test_damaged_files_raise_only_parse_errors(tmp_path, source):
    rng = random.Random(source.name)
    data = source.read_bytes()
    name = DETECTED[source]
    for index in range(10):
        cut = data[: rng.randrange(1, len(data))]
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        for variant, content in (("cut", cut), ("flip", bytes(flipped))):
            path = tmp_path / f"{variant}{index}{source.suffix}"
            path.write_bytes(content)
            assert_parses_or_refuses(path, name)


def test_parsers_are_registered_with_their_labels():
    assert get_parser("versastudio_par").label == "VersaStudio impedance (.par)"
    assert get_parser("palmsens_pssession").extensions == (".pssession",)
    assert get_parser("ivium_idf").extensions == (".idf", ".ids")
