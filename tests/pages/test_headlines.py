"""Item pages show the results an item is known by, with the demo's computed numbers."""

from __future__ import annotations

import json
import re

import pytest

from core import headlines
from measurements.models import Measurement, Result
from synthesis.models import Pellet

pytestmark = pytest.mark.django_db


def _headline(html: str) -> dict[str, str]:
    """{key: "label | value | note"} of the page's headline facts."""
    section = html.split('data-testid="headline"', 1)[1].split("</section>", 1)[0]
    facts = {}
    for key, body in re.findall(r'<div class="fact" data-key="([^"]*)">(.*?)</div>', section):
        facts[key] = " | ".join(t.strip() for t in re.split(r"<[^>]+>", body) if t.strip())
    return facts


def _plot(html: str) -> dict:
    data = html.split('id="headline-plot-data" type="application/json">', 1)[1]
    return json.loads(data.split("</script>", 1)[0])


def test_the_pellet_sintered_at_900_shows_sigma_at_25_ea_and_density(staff_client, measured_demo):
    pellet = Pellet.objects.get(code="PEL-0003")
    assert pellet.pellet_set.sintering_temperature_c == 900
    html = staff_client.get("/items/PEL-0003/").content.decode()
    facts = _headline(html)
    # R = 330.29 ± 0.52 Ω at 25 °C, 0.6 mm, 12.9 mm diameter: σ = 3.239e-4 S/cm.
    assert facts["sigma"] == "σ at 25 °C (S/cm) | 3.24e-04 ± 5.1e-07"
    # Arrhenius over 25, 40, 60, 80 °C.
    assert facts["ea"].startswith(
        "Ea, Arrhenius (eV) | 0.36079 ± 0.00011 | σ = A exp(−Ea/kT) over 4"
    )
    assert facts["relative_density"] == "relative density (%) | 91.91 | of 3.47 g/cm³"
    assert list(facts) == ["sigma", "ea", "relative_density"]
    plot = _plot(html)
    assert [t["name"] for t in plot["traces"]] == ["measured", "Arrhenius, Ea 0.3608 eV"]
    assert len(plot["traces"][0]["x"]) == 4
    assert plot["layout"]["xaxis"]["title"] == "1000/T (1/K)"
    assert plot["layout"]["yaxis"]["title"] == "conductivity σ (S/cm)"
    assert 'data-testid="headline-warnings"' not in html


def test_a_membrane_without_25_c_says_which_temperature_and_shows_vft(staff_client, measured_demo):
    html = staff_client.get("/items/SPE-0001/").content.decode()
    facts = _headline(html)
    # Measured at 20, 30, ... 80 °C: 20 and 30 are as near to 25; the lower one is shown.
    assert facts["sigma"] == (
        "σ at 20 °C (S/cm) | 1.05e-03 ± 1.6e-06 | "
        "no measurement at 25 °C; this is the nearest temperature measured"
    )
    assert facts["vft_ea"].startswith("pseudo-Ea, VFT (eV) | 0.0906 ± 0.0026")
    assert facts["vft_t0"] == "VFT T0 (K) | 126.9 ± 2.8"
    assert facts["vft_b"] == "VFT B (K) | 1050 ± 30"  # B = 1051 ± 31 K, to its uncertainty
    names = [t["name"] for t in _plot(html)["traces"]]
    assert names == ["measured", "Arrhenius, Ea 0.2351 eV", "VFT, T0 126.9 K"]


def test_the_full_cell_shows_capacity_retention_and_ce(staff_client, measured_demo):
    html = staff_client.get("/items/CELL-0005/").content.decode()
    facts = _headline(html)
    assert facts["first_discharge"] == (
        "first discharge (mAh/g) | 199.0 | charge 217.0 mAh/g, first-cycle CE 91.71 %"
    )
    assert facts["retention"] == (
        "capacity retention (%) | 82.70 | cycle 400 against cycle 1; never below 80 %"
    )
    assert facts["mean_ce"] == "mean coulombic efficiency (%) | 99.84 | over 400 cycles"
    plot = _plot(html)
    assert [t["name"] for t in plot["traces"]] == ["MEAS-0015 discharge", "MEAS-0015 CE"]
    assert len(plot["traces"][0]["x"]) == 400
    assert plot["layout"]["yaxis"]["title"] == "discharge capacity (mAh/g)"
    assert plot["layout"]["yaxis2"]["title"] == "coulombic efficiency (%)"
    # The cell that fades: below 80 % from cycle 17.
    facts = _headline(staff_client.get("/items/CELL-0006/").content.decode())
    assert facts["retention"].endswith("cycle 60 against cycle 1; below 80 % from cycle 17")


def test_symmetric_cells_show_their_short_circuit_or_failure(staff_client, measured_demo):
    facts = _headline(staff_client.get("/items/CELL-0003/").content.decode())
    assert facts["short"] == "short circuit at (h) | 195"
    facts = _headline(staff_client.get("/items/CELL-0002/").content.decode())
    assert facts["failure"] == "failure at (h) | 80 | overpotential beyond the limit"
    html = staff_client.get("/items/CELL-0004/").content.decode()
    assert _headline(html)["no_failure"] == "stripping/plating | no failure in 1000 h"
    plot = _plot(html)
    assert plot["layout"]["xaxis"]["title"] == "time (h)"
    assert len(plot["traces"]) == 1 and len(plot["traces"][0]["x"]) > 1000


def test_the_headline_shows_the_warnings_of_its_results(staff_client, measured_demo):
    summary = Result.objects.get(item__code="CELL-0005", kind="cycling_summary")
    summary.warnings = [
        {"code": "capacity_above_theoretical", "message": "199 mAh/g is above 200 mAh/g? no"}
    ]
    summary.save()
    Measurement.objects.filter(pk=summary.measurement_id).update(status="done_with_warnings")
    html = staff_client.get("/items/CELL-0005/").content.decode()
    warnings = html.split('data-testid="headline-warnings"', 1)[1].split("</ul>", 1)[0]
    assert "Cycling summary: 199 mAh/g is above 200 mAh/g? no" in warnings


def test_an_item_without_results_has_no_headline(staff_client, measured_demo):
    html = staff_client.get("/items/PEL-0002/").content.decode()
    # Its density is known without a measurement.
    assert _headline(html) == {"relative_density": "relative density (%) | 84.06 | of 3.47 g/cm³"}
    assert "headline-plot" not in html
    assert 'data-testid="headline"' not in staff_client.get("/items/RGT-0001/").content.decode()


def test_the_core_registry_merges_providers_in_order():
    calls = []
    kind = "test-kind"

    def late(item):
        calls.append("late")
        return headlines.Headlines(facts=[headlines.Fact("b", "2")], plot={"traces": []})

    def early(item):
        calls.append("early")
        return headlines.Headlines(facts=[headlines.Fact("a", "1")], warnings=["w"])

    headlines.register(kind, late, position=50)
    headlines.register(kind, early, position=10)
    headlines.register(kind, early, position=10)  # registering twice adds nothing

    class Fake:
        pass

    item = Fake()
    item.kind = kind
    merged = headlines.headlines(item)
    assert [f.label for f in merged.facts] == ["a", "b"] and merged.warnings == ["w"]
    assert calls == ["early", "late"] and merged.plot == {"traces": []}
