"""CH Instruments and Autolab impedance exports, decimal-comma text and spreadsheets through the
column mapping (pure: no Django, no database).

Real files (tests/data/instrument-files/INDEX.md has their origins):
- impedance.py: ECSHackWeek/impedance.py@0b302ca9eabf (MIT) data/exampleDataCHInstruments.txt,
  data/exampleDataAutolab.txt
- navani: the-grey-group/navani@922ffe190ae7 (MIT)
  Example_data/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx (Arbin export, 2 sheets)
Derived files (derived/derive.py writes them from the real ones above; no public file under a
permissive licence was found for these layouts): derived/autolab_nova_decimal_comma.txt,
derived/chi_spectrum.ods.

Expected values were read from the files themselves (sed/awk on the text, calamine on the
sheet), or computed by the peer tools named beside each constant.
"""

from __future__ import annotations

import zipfile

import polars as pl
import pytest

from measurements import canonical as c
from measurements.analysis import cycling, eis
from measurements.parsers import ParseError, detect, get_parser, parse_file
from measurements.parsers import generic_csv as generic
from tests.instrument_files import instrument_file

CHI = instrument_file("impedance.py/exampleDataCHInstruments.txt")
AUTOLAB_Z60W = instrument_file("impedance.py/exampleDataAutolab.txt")
NOVA = instrument_file("derived/autolab_nova_decimal_comma.txt")
ODS = instrument_file("derived/chi_spectrum.ods")
XLSX = instrument_file("navani/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx")

# impedance.py 1.7.1 (peer venv), preprocessing.readFile(..., instrument="chinstruments") then
# CustomCircuit("R0-p(R1,CPE1)-CPE2", initial_guess=[100, 500, 1e-4, 0.7, 1e-4, 0.8])
# .fit(f, Z, weight_by_modulus=True): parameters_ and conf_ (standard errors).
IMPEDANCE_PY_CHI = {"R0": (96.4342624, 0.593490541), "R1": (546.379354, 25.3998825)}
# Same for readFile(..., instrument="autolab"), initial_guess=[0.014, 0.018, 3, 0.6, 200, 0.5].
IMPEDANCE_PY_AUTOLAB = {"R0": (0.0137356528, 0.000532849915), "R1": (0.017760146, 0.00701102373)}
# navani 0.1.22 (peer venv), echem_file_loader(XLSX): capacity (mAh) of each half cycle,
# df.groupby("half cycle")["Capacity"].max(): discharge, charge, discharge, charge.
NAVANI_HALF_CYCLES_MAH = (5.798033, 5.698108, 5.256826, 0.004593)


@pytest.fixture(autouse=True)
def _eager_celery_outside_integration():
    """No Celery and no Django here (overrides the suite-wide fixture)."""
    yield


def _rows(result) -> list[tuple[float, float, float]]:
    return result.data.select(c.EIS_COLUMNS).rows()


# --- CH Instruments ----------------------------------------------------------------------


def test_chi_export_is_detected_and_read_row_for_row():
    assert detect(CHI).name == "chi_txt"
    result = parse_file(CHI)
    assert result.kind == "eis" and result.data.height == 73 and result.warnings == []
    rows = _rows(result)
    # Lines 19, 20, 55 and 91 of the file ("9.961e+4, 9.891e+1, -2.748e+0, ...").
    assert rows[0] == (9.961e4, 9.891e1, -2.748e0)
    assert rows[1] == (8.252e4, 9.912e1, 1.603e0)
    assert rows[36] == (9.766e1, 2.524e2, -1.954e2)
    assert rows[-1] == (1.000e-1, 5.685e3, -1.586e4)
    assert result.metadata["header:Instrument Model"] == "CHI660E"
    assert result.metadata["header:Amplitude (V)"] == "0.025"
    assert result.metadata["column:z_imag_ohm"] == 'Z"/ohm'


def test_chi_values_are_the_ones_impedance_py_reads():
    # impedance.py 1.7.1 readFile(CHI, "chinstruments"): 73 points, f[0] = 99610.0,
    # Z[0] = 98.91-2.748j, f[36] = 97.66, Z[36] = 252.4-195.4j, f[-1] = 0.1, Z[-1] = 5685-15860j.
    rows = _rows(parse_file(CHI))
    assert len(rows) == 73
    assert rows[0] == (99610.0, 98.91, -2.748)
    assert rows[36] == (97.66, 252.4, -195.4)
    assert rows[-1] == (0.1, 5685.0, -15860.0)


def test_chi_fit_matches_impedance_py(tmp_path):
    fit = eis.fit_impedance_frame(parse_file(CHI).data, model=eis.GRAIN_BOUNDARY)
    assert fit.converged
    for name, (value, stderr) in IMPEDANCE_PY_CHI.items():
        ours, our_stderr = fit.parameters[name]
        assert ours == pytest.approx(value, rel=1e-3), name
        assert our_stderr == pytest.approx(stderr, rel=0.02), name
    assert fit.ionic_resistance_ohm == pytest.approx(96.4343 + 546.379, rel=1e-3)


def test_chi_columns_that_disagree_with_the_modulus_are_refused(tmp_path):
    text = CHI.read_text()
    # Z' of line 20 hand-edited from 99.12 to 90.12: |Z| (99.13) no longer matches.
    edited = text.replace("8.252e+4, 9.912e+1, 1.603e+0", "8.252e+4, 9.012e+1, 1.603e+0", 1)
    assert edited != text
    path = tmp_path / "swapped.txt"
    path.write_text(edited)
    with pytest.raises(ParseError, match="line 20: Z/ohm 99.13 does not match"):
        parse_file(path)


def test_chi_cut_short_or_without_columns_gives_the_line(tmp_path):
    lines = CHI.read_text().splitlines()
    cut = tmp_path / "cut.txt"
    cut.write_text("\n".join(lines[:40]) + "\n1.211e+3, 1.174e+2\n")
    with pytest.raises(ParseError, match="line 41: expected 5 columns, found 2"):
        parse_file(cut)
    headless = tmp_path / "headless.txt"
    headless.write_text("\n".join(lines[:16]) + "\n")
    with pytest.raises(ParseError, match="Convert to Text"):
        get_parser("chi_txt").parse(headless)


# --- Autolab -----------------------------------------------------------------------------


def test_autolab_z60w_export_is_detected_and_read_row_for_row():
    assert detect(AUTOLAB_Z60W).name == "autolab"
    result = parse_file(AUTOLAB_Z60W)
    assert result.data.height == 41 and result.warnings == []
    rows = _rows(result)
    # Lines 12 and 52: "10000,0,0,0,0.013785863964281,0.007191946305823,0,0,0", "0.1,...".
    assert rows[0] == (10000.0, 0.013785863964281, 0.007191946305823)
    assert rows[-1] == (0.1, 0.0345697771923854, -0.00390292888845954)
    # impedance.py 1.7.1 readFile(..., "autolab"): f[20] = 31.623, Z[20] real 0.0213049873562413
    assert rows[20][:2] == (31.623, 0.0213049873562413)
    assert result.metadata["layout"] == "Z60W"


def test_autolab_fit_matches_impedance_py():
    fit = eis.fit_impedance_frame(parse_file(AUTOLAB_Z60W).data, model=eis.GRAIN_BOUNDARY)
    for name, (value, stderr) in IMPEDANCE_PY_AUTOLAB.items():
        ours, our_stderr = fit.parameters[name]
        assert ours == pytest.approx(value, rel=1e-3), name
        assert our_stderr == pytest.approx(stderr, rel=0.05), name


def test_autolab_point_count_that_disagrees_is_a_warning(tmp_path):
    lines = AUTOLAB_Z60W.read_text(encoding="utf-8-sig").splitlines()
    path = tmp_path / "stopped.txt"
    path.write_text("\n".join(lines[:30]) + "\n")
    result = parse_file(path)
    assert result.data.height == 19
    assert result.warnings == ["header announces 41 points, file has 19 (sweep stopped early?)"]


def test_nova_export_with_decimal_comma_is_read_and_its_minus_z_flipped():
    assert detect(NOVA).name == "autolab"
    result = parse_file(NOVA)
    assert result.metadata["decimal_separator"] == "," and result.metadata["delimiter"] == ";"
    # Line 2: "1;10000;0,013785863964281;-0,007191946305823;..." (-Z'' written, Z'' kept).
    original = _rows(parse_file(AUTOLAB_Z60W))
    assert _rows(result) == original


def test_nova_value_that_is_not_a_number_names_line_and_column(tmp_path):
    text = NOVA.read_text(encoding="utf-8")
    path = tmp_path / "nova.txt"
    path.write_text(text.replace("7498,9;", "7498,9x;", 1), encoding="utf-8")
    with pytest.raises(ParseError, match=r"line 3: column 'Frequency \(Hz\)': '7498,9x'"):
        parse_file(path)


# --- generic mapping: decimal comma and semicolons ----------------------------------------


def test_decimal_comma_semicolon_text_through_the_mapping_gives_the_same_fit():
    preview = generic.preview(NOVA)
    assert (preview["delimiter"], preview["decimal"], preview["suggested_kind"]) == (
        ";",
        ",",
        "eis",
    )
    assert preview["suggested_mapping"] == {
        c.FREQUENCY_HZ: "Frequency (Hz)",
        c.Z_IMAG_OHM: "-Z'' (Ω)",
        c.Z_REAL_OHM: "Z' (Ω)",
    }
    assert preview["suggested_units"] == {c.Z_IMAG_OHM: -1.0}
    options = {"mapping": preview["suggested_mapping"], "units": preview["suggested_units"]}
    mapped = parse_file(NOVA, parser_name="generic_csv", options=options)
    assert _rows(mapped) == _rows(parse_file(AUTOLAB_Z60W))
    fit = eis.fit_impedance_frame(mapped.data, model=eis.GRAIN_BOUNDARY)
    value, _ = IMPEDANCE_PY_AUTOLAB["R0"]
    assert fit.parameters["R0"][0] == pytest.approx(value, rel=1e-3)


# --- spreadsheets --------------------------------------------------------------------------


def test_xlsx_preview_picks_the_data_sheet_and_lists_the_others():
    preview = generic.preview(XLSX, n=2)
    assert preview["sheets"] == ["Global_Info", "Channel_11_1"]
    assert preview["sheet"] == "Channel_11_1"
    assert preview["columns"][:7] == [
        "Date_Time",
        "Test_Time(s)",
        "Step_Time(s)",
        "Step_Index",
        "Cycle_Index",
        "Voltage(V)",
        "Current(A)",
    ]
    assert preview["rows"][0][1:7] == ["1.001", "1.0005", "1.0", "1.0", "2.637298583984375", "0.0"]
    # Test_Time, not Date_Time; Step_Index, not Step_Time; Arbin's per-cycle Charge_Capacity
    # is not proposed as the per-step counter.
    assert preview["suggested_kind"] == "cycling"
    assert preview["suggested_mapping"] == {
        c.CYCLE: "Cycle_Index",
        c.STEP: "Step_Index",
        c.TIME_S: "Test_Time(s)",
        c.VOLTAGE_V: "Voltage(V)",
        c.CURRENT_MA: "Current(A)",
    }
    assert preview["suggested_units"] == {c.CURRENT_MA: 1000.0}
    info = generic.preview(XLSX, options={"sheet": "Global_Info"})
    assert info["sheet"] == "Global_Info" and info["suggested_kind"] is None
    assert info["columns"][:3] == ["Channel", "Start DateTime", "Schedule File Name"]


XLSX_OPTIONS = {
    "kind": "cycling",
    "sheet": "Channel_11_1",
    "mapping": {
        c.TIME_S: "Test_Time(s)",
        c.VOLTAGE_V: "Voltage(V)",
        c.CURRENT_MA: "Current(A)",
        c.CYCLE: "Cycle_Index",
        c.STEP: "Step_Index",
    },
    "units": {c.CURRENT_MA: 1000.0},
}


def test_xlsx_sheet_is_read_cell_for_cell():
    result = parse_file(XLSX, parser_name="generic_csv", options=XLSX_OPTIONS)
    assert result.metadata["sheet"] == "Channel_11_1"
    assert result.data.height == 4526  # the sheet's 4527 rows less the header
    first = result.data.row(0, named=True)
    # Row 2 of the sheet: 1.001 s, 2.637298583984375 V, 0 A, cycle 1, step 1.
    assert (first[c.TIME_S], first[c.VOLTAGE_V], first[c.CURRENT_MA]) == (
        1.001,
        2.637298583984375,
        0.0,
    )
    assert (first[c.CYCLE], first[c.STEP]) == (1, 1)
    assert result.data[c.STEP].unique().sort().to_list() == [1, 2, 3]


def test_xlsx_capacities_match_navani_and_the_arbin_counters():
    data = parse_file(XLSX, parser_name="generic_csv", options=XLSX_OPTIONS).data
    table = cycling.per_cycle(data, active_mass_g=0.001)
    # Arbin's Cycle_Index stays 1 through the whole test (the programme loops its steps without
    # a cycle increment), so cycles are found from the current's direction: a charge followed
    # by a discharge. The file starts with a discharge (cycle 1 holds only it) and ends with a
    # short charge; each half matches navani's half cycles, and their sums Arbin's own
    # cumulative counters (last row: Discharge_Capacity 0.011055 Ah, Charge_Capacity 0.005703 Ah).
    assert table[c.CYCLE].to_list() == [1, 2, 3]
    d1, c1, d2, c2 = NAVANI_HALF_CYCLES_MAH
    assert table["discharge_mAh"].to_list()[:2] == pytest.approx([d1, d2], rel=1e-4)
    assert table["charge_mAh"].to_list()[1:] == pytest.approx([c1, c2], rel=2e-2)
    assert table["charge_mAh"].sum() == pytest.approx(5.703, rel=1e-3)
    assert table["discharge_mAh"].sum() == pytest.approx(11.055, rel=1e-3)
    assert "current direction" in data_rule(XLSX)


def data_rule(path) -> str:
    return parse_file(path, parser_name="generic_csv", options=XLSX_OPTIONS).metadata["cycle_rule"]


def test_ods_sheet_through_the_mapping_gives_the_chi_spectrum_and_fit():
    preview = generic.preview(ODS)
    assert preview["sheets"] == ["Notes", "Spectrum"] and preview["sheet"] == "Spectrum"
    assert preview["suggested_kind"] == "eis" and preview["suggested_units"] == {}
    options = {"mapping": preview["suggested_mapping"], "sheet": "Spectrum"}
    result = parse_file(ODS, parser_name="generic_csv", options=options)
    assert _rows(result) == _rows(parse_file(CHI))
    fit = eis.fit_impedance_frame(result.data, model=eis.GRAIN_BOUNDARY)
    assert fit.parameters["R0"][0] == pytest.approx(IMPEDANCE_PY_CHI["R0"][0], rel=1e-3)


def test_spreadsheet_errors_name_the_sheet_and_the_row(tmp_path):
    with pytest.raises(ParseError, match="no sheet 'Data' in the spreadsheet; its sheets: "):
        parse_file(XLSX, parser_name="generic_csv", options={**XLSX_OPTIONS, "sheet": "Data"})
    dates = {**XLSX_OPTIONS, "mapping": {**XLSX_OPTIONS["mapping"], c.TIME_S: "Date_Time"}}
    with pytest.raises(
        ParseError, match=r"sheet 'Channel_11_1', row 2: column 'Date_Time' \(for time_s\): "
    ):
        parse_file(XLSX, parser_name="generic_csv", options=dates)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(XLSX.read_bytes()[:50_000])
    with pytest.raises(ParseError, match="could not open the spreadsheet"):
        generic.preview(broken)
    with pytest.raises(ParseError, match="'sheet' is for spreadsheets"):
        generic.preview(CHI, options={"sheet": "Sheet1"})


def test_a_spreadsheet_uploaded_without_a_format_asks_for_a_mapping(tmp_path):
    with pytest.raises(ParseError, match=r"is a spreadsheet \(\.xlsx\): it needs a column mapping"):
        detect(XLSX)
    with pytest.raises(ParseError, match=r"\(\.ods\): it needs a column mapping"):
        detect(ODS)
    assert zipfile.is_zipfile(ODS)


def test_sheet_option_is_checked_when_saved():
    assert generic.check_options({"sheet": "Channel_11_1"}) == []
    assert generic.check_options({"sheet": ""}) == [
        "sheet: must be the name of a sheet of the spreadsheet"
    ]


def test_numbers_stored_as_text_with_a_decimal_comma_in_a_sheet(tmp_path):
    # A derived sheet whose cells hold text such as "0,5": the same decimal rule as text files.
    rows = [
        ["Freq/Hz", "Re(Z)/Ohm", "-Im(Z)/Ohm"],
        ["1000,0", "12,5", "3,25"],
        ["100,0", "14,0", "5,5"],
    ]
    content = "".join(
        "<table:table-row>"
        + "".join(
            f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>'
            for v in row
        )
        + "</table:table-row>"
        for row in rows
    )
    path = tmp_path / "text.ods"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
            f'<office:spreadsheet><table:table table:name="S">{content}</table:table>'
            "</office:spreadsheet></office:body></office:document-content>",
        )
        book.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
            'manifest:full-path="/" manifest:media-type='
            '"application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>',
        )
    preview = generic.preview(path)
    assert preview["decimal"] == ","
    options = {"mapping": preview["suggested_mapping"], "units": preview["suggested_units"]}
    result = parse_file(path, parser_name="generic_csv", options=options)
    assert result.data.rows() == [(1000.0, 12.5, -3.25), (100.0, 14.0, -5.5)]
    assert isinstance(result.data, pl.DataFrame)
