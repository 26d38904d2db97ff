"""Maccor's ``Rec  Cycle P  Cycle C  Step  TestTime ... Md`` text layout on real exports.

Both files are from jepegit/cellpy@c5d74b99b143 (MIT); see tests/data/instrument-files/INDEX.md:
- cellpy/maccor_002.txt (testdata/data/maccor_002.txt): 13 preamble lines, decimal point,
  0xFF bytes after the description, a rest then two charge/discharge cycles (Cycle C 1, 2);
- cellpy/maccor_two.txt (examples/data/maccor_two.txt): the same layout with a decimal comma,
  a rest only, and a last line cut short after 9 of its 28 fields.
Expected values are read from the raw lines here (a plain split on tabs), not from the parser.
"""

from __future__ import annotations

import random

import pytest

from measurements import canonical as c
from measurements import compute
from measurements.analysis import cycling
from measurements.parsers import ParseError, detect, get_parser, parse_file
from tests.instrument_files import instrument_file

MACCOR_002 = instrument_file("cellpy/maccor_002.txt")
MACCOR_TWO = instrument_file("cellpy/maccor_two.txt")
OTHER_MACCOR = [
    instrument_file("cellpy/maccor_001.txt"),
    instrument_file("cellpy/maccor_three.txt"),
    instrument_file("beep/xTESLADIAG_000019_CH70.070"),
]
HEADER_LINE = 14  # 1-based; line 15 is blank, data from line 16


def _raw_rows(path, decimal: str = ".") -> list[dict]:
    """The data rows of the file, split on tabs, numbers as floats."""
    rows = []
    with open(path, encoding="latin-1") as fh:
        lines = fh.read().splitlines()
    names = lines[HEADER_LINE - 1].split("\t")
    for line in lines[HEADER_LINE:]:
        if not line.strip():
            continue
        fields = dict(zip(names, line.split("\t"), strict=False))
        for key in ("TestTime", "Cap. [Ah]", "Ener. [Wh]", "Current [A]", "Voltage [V]"):
            fields[key] = float(fields[key].replace(decimal, "."))
        for key in ("Cycle C", "Step"):
            fields[key] = int(fields[key])
        rows.append(fields)
    return rows


def test_detection_does_not_collide_with_the_other_maccor_layout():
    assert detect(MACCOR_002).name == "maccor_md"
    assert detect(MACCOR_TWO).name == "maccor_md"
    md, classic = get_parser("maccor_md"), get_parser("maccor")
    for path in (MACCOR_002, MACCOR_TWO):
        assert not classic.sniff(path.read_bytes()[:8192], path.name)
    for path in OTHER_MACCOR:
        assert detect(path).name == "maccor"
        assert not md.sniff(path.read_bytes()[:8192], path.name)


def test_maccor_002_columns_equal_the_files_own_values():
    result = parse_file(MACCOR_002)
    data = result.data
    raw = _raw_rows(MACCOR_002)
    assert data.height == len(raw) == 7446
    assert data[c.VOLTAGE_V].to_list() == [r["Voltage [V]"] for r in raw]
    # TestTime is in minutes: seconds are 60 x.
    assert data[c.TIME_S].to_list() == pytest.approx([60.0 * r["TestTime"] for r in raw])
    sign = {"C": 1.0, "D": -1.0, "R": 0.0}
    assert data[c.CURRENT_MA].to_list() == pytest.approx(
        [1000.0 * r["Current [A]"] * sign[r["Md"]] for r in raw]
    )
    assert data[c.STEP_CAPACITY_MAH].to_list() == pytest.approx(
        [1000.0 * r["Cap. [Ah]"] for r in raw]
    )
    assert data[c.STEP_ENERGY_MWH].to_list() == pytest.approx(
        [1000.0 * r["Ener. [Wh]"] for r in raw]
    )
    assert data[c.CYCLE].to_list() == [r["Cycle C"] for r in raw]
    assert data[c.STEP].to_list() == [r["Step"] for r in raw]
    # Spot values typed from the file: Rec 362 (first charge point), Rec 7446 (last line).
    first_charge = data.row(361, named=True)
    assert first_charge[c.TIME_S] == pytest.approx(360.000667 * 60)
    assert first_charge[c.CURRENT_MA] == pytest.approx(0.16144)
    assert data.row(-1, named=True)[c.CURRENT_MA] == pytest.approx(-0.16037)
    meta = result.metadata
    assert meta["time_unit"] == "minutes (checked against DPT Time)"
    assert meta["cycle_source"] == "Cycle C"
    assert meta["decimal_separator"] == "."
    assert meta["header_line"] == HEADER_LINE
    assert meta["preamble:Name"] == "CW-SIMBA-FC-CT-NAPF6-015.053"
    assert meta["preamble:Description"] == "SIMBA-Capacity_test"
    assert meta["preamble:Started"] == "5/11/2021 3:40:24 PM"
    assert result.warnings == []


def test_maccor_002_per_cycle_capacities_equal_a_hand_sum_of_the_rows():
    """Each step's capacity is its last Cap. [Ah] (the counter resets at every step); a
    cycle's charge is the sum over its C steps, its discharge over its D steps."""
    raw = _raw_rows(MACCOR_002)
    last: dict[tuple[int, int, str], float] = {}
    for r in raw:
        last[(r["Cycle C"], r["Step"], r["Md"])] = 1000.0 * r["Cap. [Ah]"]
    hand = {
        cycle: (
            sum(q for (cc, _, md), q in last.items() if cc == cycle and md == "C"),
            sum(q for (cc, _, md), q in last.items() if cc == cycle and md == "D"),
        )
        for cycle in (1, 2)
    }
    # The same sums typed out from the file's last line of each step (mAh).
    assert hand[1] == pytest.approx((2.44213, 2.25098), abs=1e-12)
    assert hand[2] == pytest.approx((2.27658, 2.25395), abs=1e-12)

    data = parse_file(MACCOR_002).data
    outcome = compute.compute("cycling", [("m.txt", data)], ["cycling"], {"active_mass_mg": 1.0})
    table = outcome.per_cycle
    assert table["cycle"].to_list() == [1, 2]
    assert table["charge_mAh"].to_list() == pytest.approx([hand[1][0], hand[2][0]], abs=1e-12)
    assert table["discharge_mAh"].to_list() == pytest.approx([hand[1][1], hand[2][1]], abs=1e-12)
    assert table["coulombic_efficiency"][1] == pytest.approx(2.25395 / 2.27658)
    # Energy counter over capacity gives the mean voltages: 6.64376 mWh / 2.25395 mAh.
    assert table["mean_discharge_voltage_V"][1] == pytest.approx(6.64376 / 2.25395)
    assert outcome.results[0].values["cycle_rule"] == cycling.RULE_COUNTER


def test_maccor_two_cut_short_last_line_is_refused_with_its_line(tmp_path):
    with pytest.raises(ParseError) as err:
        parse_file(MACCOR_TWO)
    assert err.value.line == 229
    assert "expected 28 columns, found 9 (file truncated?)" in str(err.value)


def test_maccor_two_decimal_comma(tmp_path):
    """The same real file without its cut-short last line."""
    lines = MACCOR_TWO.read_bytes().splitlines(keepends=True)
    path = tmp_path / "maccor_two_complete.txt"
    path.write_bytes(b"".join(lines[:-1]))
    result = parse_file(path)
    raw = _raw_rows(path, decimal=",")
    data = result.data
    assert data.height == len(raw) == 213
    assert data[c.VOLTAGE_V].to_list() == [r["Voltage [V]"] for r in raw]
    assert data[c.VOLTAGE_V][0] == 0.1377
    assert data[c.TIME_S].to_list() == pytest.approx([60.0 * r["TestTime"] for r in raw])
    assert set(data[c.CURRENT_MA].to_list()) == {0.0}
    assert result.metadata["decimal_separator"] == ","
    assert result.metadata["time_unit"] == "minutes (checked against DPT Time)"
    assert result.metadata["preamble:SCap"] == "0,017"


def _small_export(tmp_path, rows: list[str], header: str | None = None):
    header = header or (
        "Rec\tCycle P\tCycle C\tStep\tTestTime\tStepTime\tCap. [Ah]\tEner. [Wh]\t"
        "Current [A]\tVoltage [V]\tMd\tES\tDPT Time"
    )
    path = tmp_path / "small.txt"
    path.write_text("Name:\tcell\nChannel:\t1\n\n" + header + "\n\n" + "\n".join(rows) + "\n")
    return path


def _row(rec: int, minutes: float, volts: str = "3.5", md: str = "C", clock: str = "") -> str:
    clock = clock or f"5/11/2021 3:{40 + rec:02d}:00 PM"
    return f"{rec}\t1\t1\t2\t{minutes}\t{minutes}\t0.001\t0.003\t0.1\t{volts}\t{md}\t0\t{clock}"


def test_text_in_a_number_column_names_line_and_column(tmp_path):
    rows = [_row(i, float(i)) for i in range(1, 5)]
    rows[2] = _row(3, 3.0, volts="3.5x")
    with pytest.raises(ParseError) as err:
        parse_file(_small_export(tmp_path, rows))
    assert err.value.line == 8
    assert "column 'Voltage [V]': '3.5x' is not a number" in str(err.value)


def test_missing_mode_column_is_named(tmp_path):
    header = "Rec\tCycle P\tCycle C\tStep\tTestTime\tCurrent [A]\tVoltage [V]\tMd"
    path = _small_export(tmp_path, ["1\t1\t1\t1\t0\t0.1\t3.5\tC"], header=header)
    assert parse_file(path).data.height == 1
    header = header.replace("\tVoltage [V]", "\tVolts")
    path = _small_export(tmp_path, ["1\t1\t1\t1\t0\t0.1\t3.5\tC"], header=header)
    with pytest.raises(ParseError, match=r"column 'Voltage \[V\]' missing .*line 4"):
        parse_file(path)


def test_time_in_seconds_is_recognised_by_the_clock(tmp_path):
    # TestTime advancing 60 per row while the clock advances a minute: seconds, not minutes.
    rows = [_row(i, 60.0 * i) for i in range(1, 8)]
    result = parse_file(_small_export(tmp_path, rows))
    assert result.metadata["time_unit"] == "seconds (checked against DPT Time)"
    assert result.data[c.TIME_S].to_list() == [60.0 * i for i in range(1, 8)]


def test_time_in_no_known_unit_is_refused(tmp_path):
    rows = [_row(i, 7.0 * i) for i in range(1, 8)]  # 60 s of clock per 7 units
    with pytest.raises(ParseError, match="neither minutes nor seconds"):
        parse_file(_small_export(tmp_path, rows))


def test_milli_unit_columns(tmp_path):
    header = "Rec\tCycle C\tStep\tTestTime\tCap. [mAh]\tCurrent [mA]\tVoltage [V]\tMd"
    path = _small_export(
        tmp_path, ["1\t1\t1\t0\t0\t0\t3.5\tR", "2\t1\t2\t1\t0.5\t2.0\t3.6\tD"], header=header
    )
    data = parse_file(path).data
    assert data[c.CURRENT_MA].to_list() == [0.0, -2.0]
    assert data[c.STEP_CAPACITY_MAH].to_list() == [0.0, 0.5]
    assert data[c.TIME_S].to_list() == [0.0, 60.0]


def test_damaged_copies_raise_only_parse_errors(tmp_path):
    """Cut short or with random bytes overwritten: a ParseError or canonical data, no crash."""
    data = MACCOR_002.read_bytes()
    rng = random.Random("maccor_002")
    for index in range(8):
        content = bytearray(data[: rng.randrange(1, len(data))] if index % 2 else data)
        for _ in range(rng.randint(1, 12)):
            content[rng.randrange(len(content))] = rng.randrange(256)
        path = tmp_path / f"{index}.txt"
        path.write_bytes(bytes(content))
        for kwargs in ({"parser_name": "maccor_md"}, {}):
            try:
                result = parse_file(path, **kwargs)
            except ParseError as exc:
                assert str(exc)
            else:
                assert result.data.columns == list(c.CYCLING_COLUMNS)
