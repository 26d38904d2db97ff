"""Lineage-table columns the explorer plots: a sample's conductivity at a chosen temperature
(measured, or read off its fit), a cell's retention at cycle N, a process step's parameter, the
room-temperature rule of the conductivity column, and CSV cells a spreadsheet would run."""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from core.services import allocate_code
from measurements.analysis import temperature
from measurements.models import CycleRow, Measurement, Result
from tests import factories

TABLE = "/api/lineage-table/"


def finished(item, technique, t_c=None, **values) -> Measurement:
    return Measurement.objects.create(
        code=allocate_code("MEAS"), item=item, technique=technique, temperature_c=t_c,
        status="done", run=1,
    )  # fmt: skip


def conductivity(item, t_c, sigma) -> Measurement:
    m = finished(item, "eis", t_c)
    Result.objects.create(
        item=item,
        measurement=m,
        kind="conductivity",
        values={"conductivity_s_cm": sigma},
        algorithm_version="t",
    )
    return m


def rows(api, **params) -> dict[str, dict]:
    response = api.get(TABLE, params)
    assert response.status_code == 200, response.content
    return {row["code"]: row for row in response.json()["results"]}


@pytest.fixture
def pellet(db):
    return factories.pellets(count=1)[0]


def test_the_conductivity_column_is_the_one_nearest_room_temperature(api, pellet):
    # Measured at 25 °C first, then at 80 °C: the newer 80 °C result used to win the column.
    conductivity(pellet, 25.0, 3.25e-4)
    conductivity(pellet, 80.0, 2.89e-3)
    row = rows(api, root_kind="pellet")[pellet.code]
    assert (row["conductivity_s_cm"], row["conductivity_temperature_c"]) == (3.25e-4, 25.0)


def test_conductivity_at_a_temperature_measured_or_from_the_fit(api, pellet):
    for t, sigma in ((25.0, 3.25e-4), (40.0, 6.35e-4), (60.0, 1.42e-3), (80.0, 2.89e-3)):
        conductivity(pellet, t, sigma)
    fit = temperature.fit_arrhenius([25, 40, 60, 80], [3.25e-4, 6.35e-4, 1.42e-3, 2.89e-3])
    Result.objects.create(
        item=pellet,
        kind="arrhenius",
        values=fit.to_dict(),
        inputs={"temperatures_c": [25.0, 40.0, 60.0, 80.0]},
        algorithm_version="t",
    )
    row = rows(api, root_kind="pellet", conductivity_at_c="26.5,50,100")[pellet.code]
    # 26.5 °C is within 2 °C of the 25 °C measurement: that one, as measured.
    assert row["conductivity_at_26.5c_s_cm"] == 3.25e-4
    assert row["conductivity_at_26.5c_source"].startswith("measured (MEAS-")
    assert row["conductivity_at_26.5c_source"].endswith("at 25 °C)")
    # 50 °C: from the fit, σ = A exp(-Ea / k T) at 323.15 K.
    expected = fit.prefactor * math.exp(-fit.activation_energy_eV / (temperature.K_B_EV * 323.15))
    assert row["conductivity_at_50c_s_cm"] == pytest.approx(expected, rel=1e-12)
    assert 6.35e-4 < expected < 1.42e-3
    assert row["conductivity_at_50c_source"] == "Arrhenius fit over 25–80 °C"
    # 100 °C lies outside what was measured: never extrapolated.
    assert row["conductivity_at_100c_s_cm"] is None
    assert row["conductivity_at_100c_source"] == (
        "outside the Arrhenius fit's 25–80 °C; not extrapolated"
    )


def test_retention_at_cycle_n_from_the_per_cycle_table(api, db):
    cell = factories.full_cell()
    m = finished(cell, "cycling")
    # Reference cycle 2 (the summary's input): 180 mAh/g; cycle 100: 153 -> 85 %.
    for cycle, q in ((1, 170.0), (2, 180.0), (100, 153.0), (101, 152.0)):
        CycleRow.objects.create(measurement=m, cycle=cycle, discharge_mAh_g=q)
    Result.objects.create(
        item=cell,
        measurement=m,
        kind="cycling_summary",
        values={"retention_pct": 152.0 / 180.0 * 100},
        inputs={"reference_cycle": 2},
        algorithm_version="t",
    )
    row = rows(api, retention_at_cycle="100,500")[cell.code]
    assert row["discharge_at_cycle_100_mAh_g"] == 153.0
    assert row["retention_at_cycle_100_pct"] == pytest.approx(85.0)
    assert row["retention_at_cycle_500_pct"] is None  # not cycled that far
    other = factories.full_cell()
    assert rows(api, retention_at_cycle=100)[other.code]["retention_at_cycle_100_pct"] is None


def test_a_process_step_parameter_comes_from_the_nearest_ancestor_that_has_it(api, demo):
    table = rows(api, step="uv_crosslinking.duration_min,calcination.temperature_c")
    with_spe = {code for code, row in table.items() if row["spe_membrane_code"]}
    assert with_spe == {demo["sym_spe"].code, demo["full_spe"].code}
    for code, row in table.items():
        # the SPE protocol's 6 min under the Hg lamp; the LAGP batch's 800 °C calcination
        assert row["step_uv_crosslinking_duration_min"] == (6.0 if code in with_spe else None)
        assert row["step_calcination_temperature_c"] == 800.0
    columns = api.get(TABLE, {"step": "uv_crosslinking.duration_min"}).json()["columns"]
    assert columns[-1] == "step_uv_crosslinking_duration_min"


@pytest.mark.parametrize(
    "query, field, message",
    [
        ("retention_at_cycle=0", "retention_at_cycle", "'0': must be from 1 to 1000000."),
        ("retention_at_cycle=ten", "retention_at_cycle", "'ten' is not a whole number."),
        ("root_kind=pellet&conductivity_at_c=hot", "conductivity_at_c", "'hot' is not a number."),
        ("conductivity_at_c=25", "conductivity_at_c", "Not a column of cell rows"),
        ("step=uv", "step", "'uv': the step kind before the dot must be one of"),
        ("step=sintering.colour", "step", "'sintering.colour': the field after the dot"),
        ("retention_at_cycle=" + ",".join(map(str, range(1, 12))), "retention_at_cycle", "At most"),
    ],
)
def test_bad_column_parameters_are_named(api, db, query, field, message):
    response = api.get(f"{TABLE}?{query}")
    assert response.status_code == 400
    assert message in response.json()[field][0]


def test_csv_cells_a_spreadsheet_would_run_get_an_apostrophe(api, db):
    factories.reagent_lot("Formula chemical", "C", supplier='=HYPERLINK("http://x")')
    factories.reagent_lot("Minus chemical", "C", supplier="-2+3")
    text = api.get("/api/reagent-lots/?format=csv").content.decode()
    suppliers = pd.read_csv(io.StringIO(text))["supplier"].tolist()
    assert '\'=HYPERLINK("http://x")' in suppliers and "'-2+3" in suppliers
    # numbers stay numbers: a negative value is not a formula
    from core.api.renderers import CSVRenderer

    out = CSVRenderer().render([{"t": -20.0, "s": "@SUM(A1)", "tab": "\tx", "ok": "PEL-0003"}])
    assert out.decode().splitlines()[1] == "-20.0,'@SUM(A1),'\tx,PEL-0003"
