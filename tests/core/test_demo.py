"""The demo data is the paper's study, all linked."""

from django.core.management import call_command

from core import selectors
from synthesis.models import Pellet


def test_the_demo_study_is_linked_from_batch_to_every_cell(demo):
    cells = {
        name: demo[name] for name in ("sym_bare", "sym_ile", "sym_spe", "full_spe", "full_bare")
    }
    assert {name: c.notation for name, c in cells.items()} == {
        "sym_bare": "Li|LAGP|Li",
        "sym_ile": "Li|ILE/LAGP/ILE|Li",
        "sym_spe": "Li|ILE/SPE/LAGP/SPE/ILE|Li",
        "full_spe": "Li|ILE/SPE/LAGP/ILE|NCM811",
        "full_bare": "Li|ILE/LAGP/ILE|NCM811",
    }
    descendants = {r.code for r in selectors.lineage(demo["batch"].pk, "descendants")}
    assert {c.code for c in cells.values()} <= descendants
    assert demo["blocking"].notation == "Cu/Pt|LAGP|Pt/Cu"
    temperatures = set(Pellet.objects.values_list("pellet_set__sintering_temperature_c", flat=True))
    assert temperatures == {850, 900, 950, 1000}
    assert round(demo["full_spe"].active_mass_mg, 3) == 3.054


def test_the_demo_command_is_idempotent(db, capsys):
    call_command("load_demo")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "already loaded" in out and "Log in as 'demo'" in out
    assert Pellet.objects.count() == 12
