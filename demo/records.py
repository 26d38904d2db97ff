"""The paper's study as demo data: one LAGP batch, pellets sintered at 850-1000 °C, an SPE
membrane, an ILE batch, an NCM811 coating with disks, three symmetric and two full cells."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.db import transaction

from cells.services import cell_save
from core import permissions
from core.audit import acting_as
from core.models import Membership, ProjectRole
from core.services import record_save
from demo.synthetic import exports
from demo.synthetic import spectra as syn
from demo.synthetic.files import write_maccor_cycling
from measurements.analysis import eis
from measurements.services import measurement_create
from synthesis import chemistry, defaults
from synthesis.models import (
    CathodeCoating,
    Chemical,
    IleBatch,
    LagpBatch,
    ReagentLot,
    SpeMembrane,
)
from synthesis.services import (
    electrode_disks_create,
    lagp_batch_save,
    membrane_pieces_create,
    pellet_set_create,
    pellets_measure,
    reagent_record_save,
)

DEMO_MARKER = "Demo data: the bilayer solid-electrolyte paper's study."

# Records of the demo data, by model, that the API schema gives as examples: the docs' "Try it
# out" and the schema fuzzer (tests/api/test_schemathesis.py) then reach real records.
# Measurements exist once `load_demo_measurements` ran (`make run`); "demo" is `ensure_users`'.
EXAMPLE_CODES = {
    "lims.item": "PEL-0003",
    "synthesis.reagentlot": "RGT-0001",
    "synthesis.lagpbatch": "LAGP-0001",
    "synthesis.pellet": "PEL-0003",
    "synthesis.spemembrane": "SPE-0001",
    "synthesis.ilebatch": "ILE-0001",
    "synthesis.cathodecoating": "CAT-0001",
    "synthesis.electrodedisk": "ELD-0001",
    "synthesis.membranepiece": "SPEP-0001",
    "cells.cell": "CELL-0005",
    "measurements.measurement": "MEAS-0001",
    "lims.project": "LAB",
}
EXAMPLE_NAMES = {"synthesis.chemical": "Lithium foil", "auth.user": "demo"}

CHEMICALS = [
    # name, category, formula, M (g/mol), CAS, notation label, supplier, grade, quantity, unit
    ("Lithium carbonate", "lithium_source", "Li2CO3", chemistry.LI2CO3, "554-13-2", "",
     "Merck (EMSURE ACS)", "≥99.0 %", 100.0, "g"),
    ("Aluminium nitrate nonahydrate", "aluminium_source", "Al(NO3)3·9H2O",
     chemistry.AL_NITRATE_9H2O, "7784-27-2", "", "Acros Organics", "99+ %", 500.0, "g"),
    ("Germanium(IV) oxide", "germanium_source", "GeO2", chemistry.GEO2, "1310-53-8", "",
     "Sigma-Aldrich", "99.998 %", 50.0, "g"),
    ("Ammonium dihydrogen phosphate", "phosphate_source", "NH4H2PO4", chemistry.NH4H2PO4,
     "7722-76-1", "", "Merck (EMSURE ACS)", "≥99.0 %", 500.0, "g"),
    ("Poly(ethylene oxide)", "polymer", "PEO", None, "25322-68-3", "", "Sigma-Aldrich",
     "Mw 4 000 000", 100.0, "g"),
    ("LiFSI", "lithium_salt", "LiN(SO2F)2", chemistry.LIFSI_G_MOL, "171611-11-3", "",
     "Provisco", "99 %", 25.0, "g"),
    ("Pyr14FSI", "ionic_liquid", "C9H20N2O4S2F2", chemistry.PYR14FSI_G_MOL, "", "",
     "in-house", "battery grade", 50.0, "g"),
    ("Benzophenone", "photoinitiator", "C13H10O", 182.22, "119-61-9", "", "Sigma-Aldrich",
     "≥99 %", 100.0, "g"),
    ("LiTFSI", "lithium_salt", "LiN(SO2CF3)2", chemistry.LITFSI_G_MOL, "90076-65-6", "", "3M",
     "99.5 %", 25.0, "g"),
    ("NCM811", "active_material", "LiNi0.8Co0.1Mn0.1O2", 97.28, "", "NCM811", "BASF",
     "battery grade", 500.0, "g"),
    ("Super C65", "conductive_carbon", "C", 12.011, "1333-86-4", "", "Imerys",
     "battery grade", 100.0, "g"),
    ("PVdF 6020", "binder", "(C2H2F2)n", None, "24937-79-9", "", "Solvay", "Solef 6020",
     100.0, "g"),
    ("NMP", "solvent", "C5H9NO", 99.13, "872-50-4", "", "Sigma-Aldrich", "anhydrous 99.5 %",
     1000.0, "g"),
    ("Aluminium foil", "current_collector", "Al", 26.982, "7429-90-5", "Al", "MTI", "15 µm",
     20000.0, "cm2"),
    ("Lithium foil", "lithium_metal", "Li", 6.94, "7439-93-2", "Li", "Honjo",
     "500 µm, battery grade", 500.0, "cm2"),
    ("Copper foil", "current_collector", "Cu", 63.546, "7440-50-8", "Cu", "MTI", "10 µm",
     20000.0, "cm2"),
    ("Platinum (sputter target)", "electrode_metal", "Pt", 195.08, "7440-06-4", "Pt",
     "Goodfellow", "99.99 %", 1.0, "pcs"),
]  # fmt: skip

# The demo lot of each category (lots are made in CHEMICALS' order), for schema examples.
EXAMPLE_LOTS: dict[str, str] = {}
for _number, _row in enumerate(CHEMICALS, start=1):
    EXAMPLE_LOTS.setdefault(_row[1], f"RGT-{_number:04d}")

# Sintered pellets: (temperature, thickness mm, diameter mm, mass mg) — denser at 900 °C.
# Six at 900 °C, the paper's best: each cell takes its own pellet (a pellet is one piece).
PELLETS = {
    850: [(0.61, 13.2, 243.0), (0.60, 13.2, 239.5)],
    900: [
        (0.60, 12.9, 250.1),
        (0.59, 12.9, 246.0),
        (0.60, 12.9, 249.2),
        (0.61, 12.9, 252.3),
        (0.60, 12.9, 248.8),
        (0.59, 12.9, 245.1),
    ],
    950: [(0.62, 12.8, 246.8), (0.61, 12.8, 243.7)],
    1000: [(0.63, 12.8, 240.2), (0.62, 12.8, 236.9)],
}


def demo_loaded() -> bool:
    return LagpBatch.objects.filter(notes=DEMO_MARKER).exists()


def ensure_users(password: str = "demo-lims") -> tuple:
    User = get_user_model()
    demo, created = User.objects.get_or_create(
        username="demo",
        defaults={"is_staff": True, "is_superuser": True, "email": "demo@lab.invalid"},
    )
    if created:
        demo.set_password(password)
        demo.save()
    viewer, created = User.objects.get_or_create(username="viewer")
    if created:
        viewer.set_password(password)
        viewer.save()
    # The demo study is in the default project: demo manages it, viewer reads it.
    lab = permissions.default_project()
    for user, role in ((demo, ProjectRole.MANAGER), (viewer, ProjectRole.VIEWER)):
        Membership.objects.get_or_create(project=lab, user=user, defaults={"role": role})
    return demo, viewer


@transaction.atomic
def load_demo(user) -> dict:
    """Create the study; returns the main records by name (for tests and the command)."""
    with acting_as(user):
        return _load(user)


def _lots(user) -> dict[str, ReagentLot]:
    lots = {}
    for i, row in enumerate(CHEMICALS, start=1):
        name, category, formula, molar, cas, label, supplier, grade, quantity, unit = row
        chemical, _ = Chemical.objects.get_or_create(
            name=name,
            defaults={
                "category": category,
                "formula": formula,
                "molar_mass_g_mol": molar,
                "cas_number": cas,
                "notation_label": label,
            },
        )
        lots[formula] = record_save(
            ReagentLot,
            user=user,
            fields={
                "chemical": chemical,
                "supplier": supplier,
                "grade": grade,
                "lot_number": f"DEMO{i:03d}",
                "received_on": dt.date(2024, 1, 15),
                "quantity": quantity,
                "quantity_unit": unit,
            },
        )
    return lots


def _batch(user, lots) -> LagpBatch:
    lot_for = {"li": "Li2CO3", "al": "Al(NO3)3·9H2O", "ge": "GeO2", "p": "NH4H2PO4"}
    precursors = [
        {
            "role": p.role,
            "reagent_lot": lots[lot_for[p.role]],
            "planned_mass_g": round(p.mass_g, 4),
            "weighed_mass_g": round(p.mass_g * 1.001, 4),
        }
        for p in chemistry.lagp_precursors(10.0, 0.5, 10.0)
    ]
    return lagp_batch_save(
        user=user,
        fields={
            "target_mass_g": 10.0,
            "x_al": 0.5,
            "li_excess_pct": 10.0,
            "yield_g": 8.9,
            "phase_result": "NASICON Li1.5Al0.5Ge1.5(PO4)3 with minor AlPO4",
            "notes": DEMO_MARKER,
        },
        precursors=precursors,
        steps=defaults.LAGP_BATCH_STEPS,
    )


def _pellets(user, batch) -> dict[int, list]:
    by_temperature = {}
    for temperature, measured in PELLETS.items():
        pellet_set = pellet_set_create(
            user=user,
            batch=batch,
            count=len(measured),
            fields={"sintering_temperature_c": temperature, "sintered_on": dt.date(2024, 2, 1)},
        )
        pellets = list(pellet_set.pellets.order_by("code"))
        pellets_measure(
            {
                p: {"thickness_mm": t, "diameter_mm": d, "mass_mg": m}
                for p, (t, d, m) in zip(pellets, measured, strict=True)
            }
        )
        by_temperature[temperature] = pellets
    return by_temperature


def _load(user) -> dict:
    lots = _lots(user)
    batch = _batch(user, lots)
    pellets = _pellets(user, batch)
    # Masses for 10 mmol EO units : 1 mmol LiFSI : 4 mmol Pyr14FSI, benzophenone 5 wt% of PEO.
    spe = reagent_record_save(
        SpeMembrane,
        user=user,
        fields={
            "peo_lot": lots["PEO"],
            "peo_mass_g": 0.4405,
            "lifsi_lot": lots["LiN(SO2F)2"],
            "lifsi_mass_g": 0.1871,
            "pyr14fsi_lot": lots["C9H20N2O4S2F2"],
            "pyr14fsi_mass_g": 1.2896,
            "benzophenone_lot": lots["C13H10O"],
            "benzophenone_mass_g": 0.0220,
            "molar_ratio": "10:1:4",
            "benzophenone_wt_pct": 5.0,
            "thickness_um": 20.0,
            "uv_crosslinked": True,
        },
        steps=defaults.SPE_MEMBRANE_STEPS,
    )
    ile = reagent_record_save(  # 8 mmol Pyr14FSI : 2 mmol LiTFSI
        IleBatch,
        user=user,
        fields={
            "pyr14fsi_lot": lots["C9H20N2O4S2F2"],
            "pyr14fsi_mass_g": 2.5792,
            "litfsi_lot": lots["LiN(SO2CF3)2"],
            "litfsi_mass_g": 0.5742,
            "pyr14fsi_mol_fraction": 0.8,
            "water_content_ppm": 2.0,
        },
        steps=defaults.ILE_BATCH_STEPS,
    )
    coating = reagent_record_save(  # 10 g of solids at 92:4:4 in NMP, 60 % solids
        CathodeCoating,
        user=user,
        fields={
            "active_lot": lots["LiNi0.8Co0.1Mn0.1O2"],
            "active_mass_g": 9.2,
            "carbon_lot": lots["C"],
            "carbon_mass_g": 0.4,
            "binder_lot": lots["(C2H2F2)n"],
            "binder_mass_g": 0.4,
            "solvent_lot": lots["C5H9NO"],
            "solvent_mass_g": 6.67,
            "foil_lot": lots["Al"],
            "mass_ratio": "92:4:4",
            "solids_pct": 60.0,
        },
        steps=defaults.CATHODE_COATING_STEPS,
    )
    disks = electrode_disks_create(
        user=user,
        coating=coating,
        count=6,
        fields={"diameter_mm": 12.0, "active_loading_mg_cm2": 2.7},
    )
    pieces = membrane_pieces_create(user=user, membrane=spe, count=4, fields={"diameter_mm": 16.0})
    li, best = lots["Li"], pellets[900]
    cells = _cells(
        user, li=li, cu=lots["Cu"], pt=lots["Pt"], best=best, pieces=pieces, ile=ile, disks=disks
    )
    return {
        "lots": lots,
        "batch": batch,
        "pellets": pellets,
        "spe": spe,
        "pieces": pieces,
        "ile": ile,
        "coating": coating,
        "disks": disks,
        **cells,
    }


def _cells(user, *, li, cu, pt, best, pieces, ile, disks) -> dict:
    """The paper's cells; every pellet, membrane piece and disk goes into one cell only."""

    def layer(side, item, amount_ul=None, label=""):
        return {"side": side, "item": item, "amount_ul": amount_ul, "label": label}

    def build(layers, **fields):
        fields = {
            "format": "coin",
            "active_area_cm2": 1.13,
            "assembled_on": dt.date(2024, 3, 1),
            "operator": user,
            "dew_point_c": -60.0,
            "test_temperature_c": 40.0,
            **fields,
        }
        return cell_save(user=user, fields=fields, layers=layers)

    drop = 5.0  # µL of ILE on each interface
    return {
        "blocking": build(
            [
                layer("negative", cu),
                layer("negative", pt),
                layer("electrolyte", best[0]),
                layer("positive", pt),
                layer("positive", cu),
            ],
            test_temperature_c=25.0,
            notes="EIS of the 900 °C pellet",
        ),
        "sym_bare": build(
            [layer("negative", li), layer("electrolyte", best[1]), layer("positive", li)]
        ),
        "sym_ile": build(
            [
                layer("negative", li),
                layer("electrolyte", ile, drop),
                layer("electrolyte", best[2]),
                layer("electrolyte", ile, drop),
                layer("positive", li),
            ]
        ),
        "sym_spe": build(
            [
                layer("negative", li),
                layer("electrolyte", ile, drop),
                layer("electrolyte", pieces[0]),
                layer("electrolyte", best[3]),
                layer("electrolyte", pieces[1]),
                layer("electrolyte", ile, drop),
                layer("positive", li),
            ]
        ),
        "full_spe": build(
            [
                layer("negative", li),
                layer("electrolyte", ile, drop),
                layer("electrolyte", pieces[2]),
                layer("electrolyte", best[4]),
                layer("electrolyte", ile, drop),
                layer("positive", disks[0]),
            ],
            format="pouch",
        ),
        "full_bare": build(
            [
                layer("negative", li),
                layer("electrolyte", ile, drop),
                layer("electrolyte", best[5]),
                layer("electrolyte", ile, drop),
                layer("positive", disks[1]),
            ],
            format="pouch",
        ),
    }


# --- measurements: the paper's figures as instrument files ------------------------------------

# Pellets' total resistance at 25 °C by sintering temperature: 900 °C is the paper's 329.2 ohm
# (the lowest, Table S1); the others are illustrative.
SINTERING_RESISTANCE_OHM = {850: 612.0, 900: 329.2, 950: 401.5, 1000: 538.0}
PT_ELECTRODE_AREA_CM2 = 0.06 / (329.2 * 3.25e-4)  # sputtered Pt that gives the paper's 3.25e-4


def load_demo_measurements(user, records: dict, folder) -> list:
    """Upload generated instrument files for the demo study; a worker processes them."""

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with acting_as(user):
        return [
            *_demo_eis(user, records, folder),
            *_demo_cycling(user, records, folder),
            *_demo_stripping(user, records, folder),
            *_demo_tga(user, records, folder),
        ]


def _upload(user, item, technique, path, **fields):

    with open(path, "rb") as fh:
        return measurement_create(
            user=user,
            item=item,
            fields={"technique": technique, **fields},
            uploads=[File(fh, name=path.name)],
        )


def _lagp_spectrum(resistance_ohm: float, seed: int):

    scale = resistance_ohm / 329.2
    params = {
        **syn.LAGP_CIRCUIT,
        "R0": syn.LAGP_CIRCUIT["R0"] * scale,
        "R1": syn.LAGP_CIRCUIT["R1"] * scale,
    }
    return syn.eis_spectrum(eis.GRAIN_BOUNDARY, params, seed=seed)


def _demo_eis(user, records, folder) -> list:

    made = []
    for temperature, resistance in SINTERING_RESISTANCE_OHM.items():
        pellet = records["pellets"][temperature][0]
        path = exports.write_mpt_eis(
            folder / f"{pellet.code}_PEIS_25C.mpt", _lagp_spectrum(resistance, temperature)
        )
        made.append(
            _upload(
                user,
                pellet,
                "eis",
                path,
                temperature_c=25.0,
                instrument="biologic_vmp",
                area_cm2=PT_ELECTRODE_AREA_CM2,
                thickness_um=600.0,
            )
        )
    best = records["pellets"][900][0]
    temps, sigmas = syn.arrhenius_series([40.0, 60.0, 80.0], ea_ev=0.36)
    for t, sigma in zip(temps, sigmas, strict=True):
        resistance = 0.06 / (sigma * PT_ELECTRODE_AREA_CM2)
        path = exports.write_mpt_eis(
            folder / f"{best.code}_PEIS_{t:g}C.mpt", _lagp_spectrum(resistance, int(t))
        )
        made.append(
            _upload(
                user,
                best,
                "eis",
                path,
                temperature_c=float(t),
                thickness_um=600.0,
                area_cm2=PT_ELECTRODE_AREA_CM2,
                instrument="biologic_vmp",
            )
        )
    spe = records["spe"]
    temps, sigmas = syn.vft_series([20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0])
    for t, sigma in zip(temps, sigmas, strict=True):
        params = {**syn.SPE_CIRCUIT, "R0": 0.002 / (sigma * 1.0)}
        path = exports.write_mpt_eis(
            folder / f"{spe.code}_PEIS_{t:g}C.mpt",
            syn.eis_spectrum(eis.INDUCTIVE, params, seed=int(t)),
        )
        made.append(
            _upload(
                user,
                spe,
                "eis",
                path,
                temperature_c=float(t),
                area_cm2=1.0,
                eis_model=eis.INDUCTIVE,
                instrument="biologic_vmp",
            )
        )
    return made


def _demo_cycling(user, records, folder) -> list:

    full, bare = records["full_spe"], records["full_bare"]
    good = write_maccor_cycling(
        folder / f"{full.code}_0.2C_400cyc.txt",
        n_cycles=400,
        rows_per_cycle=40,
        c_rate=0.2,
        active_mass_mg=full.active_mass_mg,
    )
    poor = write_maccor_cycling(
        folder / f"{bare.code}_0.2C_60cyc.txt",
        n_cycles=60,
        rows_per_cycle=40,
        c_rate=0.2,
        active_mass_mg=bare.active_mass_mg,
        retention_at_last=0.35,
        seed=3,
    )
    return [
        _upload(user, full, "cycling", good, instrument="maccor_4300"),
        _upload(user, bare, "cycling", poor, instrument="maccor_4300"),
    ]


def _demo_stripping(user, records, folder) -> list:

    made = []
    for name, hours in (("sym_bare", 150), ("sym_ile", 260), ("sym_spe", 1000)):
        cell = records[name]
        trace = syn.stripping_trace(
            syn.PAPER_STRIPPING_PROFILES[cell.notation],
            duration_h=hours,
            points_per_hour=12,
            seed=hours,
        )
        path = exports.write_mpt_galvanostatic(folder / f"{cell.code}_strip.mpt", trace)
        made.append(
            _upload(user, cell, "stripping", path, area_cm2=1.13, instrument="biologic_vmp")
        )
    return made


def _demo_tga(user, records, folder) -> list:

    spe_path = exports.write_ta_tga(folder / "SPE_TGA.txt", syn.tga_curve(syn.SPE_TGA_STEPS))
    lagp_path = exports.write_ta_tga(folder / "LAGP_TGA.txt", syn.tga_curve(syn.LAGP_TGA_STEPS))
    return [
        _upload(user, records["spe"], "tga", spe_path, instrument="tga"),
        _upload(user, records["batch"], "tga", lagp_path, instrument="tga"),
    ]
