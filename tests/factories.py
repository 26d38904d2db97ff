"""Factories that build records through the services, so tests exercise the real write path."""

from __future__ import annotations

import itertools

import factory

from cells.services import cell_save
from core.services import record_save
from synthesis import chemistry
from synthesis.models import Chemical, ReagentLot
from synthesis.services import electrode_disks_create, lagp_batch_save, pellet_set_create

_serial = itertools.count(1)


class ChemicalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chemical
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Chemical {n}")
    category = "other"
    formula = "X"


# What the chemicals the tests use are for (a slot accepts only its categories).
CATEGORIES = {
    "Lithium foil": "lithium_metal",
    "Copper foil": "current_collector",
    "Platinum": "electrode_metal",
    "NCM811": "active_material",
    "Super C65": "conductive_carbon",
    "PVdF": "binder",
    "NMP": "solvent",
    "PEO": "polymer",
    "LiFSI": "lithium_salt",
    "LiTFSI": "lithium_salt",
    "Pyr14FSI": "ionic_liquid",
    "Benzophenone": "photoinitiator",
    "precursor li": "lithium_source",
    "precursor al": "aluminium_source",
    "precursor ge": "germanium_source",
    "precursor p": "phosphate_source",
}


def reagent_lot(
    name: str = "Lithium foil", formula: str = "Li", label: str = "", category=None, **fields
):
    chemical = ChemicalFactory(
        name=name,
        formula=formula,
        notation_label=label,
        category=category or CATEGORIES.get(name, "other"),
    )
    defaults = {
        "chemical": chemical,
        "supplier": "Sigma",
        "lot_number": f"L{next(_serial)}",
        "quantity": 1000.0,
        "quantity_unit": "g",
    }
    return record_save(ReagentLot, fields={**defaults, **fields})


def lagp_batch(user=None, **fields):
    lots = {role: reagent_lot(f"precursor {role}", role) for role in ("li", "al", "ge", "p")}
    precursors = [
        {
            "role": p.role,
            "reagent_lot": lots[p.role],
            "planned_mass_g": p.mass_g,
            "weighed_mass_g": p.mass_g,
        }
        for p in chemistry.lagp_precursors(10, 0.5, 10)
    ]
    return lagp_batch_save(user=user, fields={"target_mass_g": 10, **fields}, precursors=precursors)


def pellets(batch=None, count=2, temperature=900.0):
    batch = batch or lagp_batch()
    pellet_set = pellet_set_create(
        batch=batch, count=count, fields={"sintering_temperature_c": temperature}
    )
    return list(pellet_set.pellets.order_by("code"))


def cathode_disks(count=2, loading=2.7):
    from synthesis.models import CathodeCoating
    from synthesis.services import reagent_record_save

    coating = reagent_record_save(
        CathodeCoating,
        fields={
            "active_lot": reagent_lot("NCM811", "LiNi0.8Co0.1Mn0.1O2", "NCM811"),
            "carbon_lot": reagent_lot("Super C65", "C"),
            "binder_lot": reagent_lot("PVdF", "PVdF"),
        },
    )
    return electrode_disks_create(
        coating=coating, count=count, fields={"diameter_mm": 12.0, "active_loading_mg_cm2": loading}
    )


def full_cell(pellet=None, disk=None, li=None, **fields):
    li = li or reagent_lot("Lithium foil", "Li", "Li")
    pellet = pellet or pellets(count=1)[0]
    disk = disk or cathode_disks(count=1)[0]
    layers = [
        {"side": "negative", "item": li},
        {"side": "electrolyte", "item": pellet},
        {"side": "positive", "item": disk},
    ]
    return cell_save(fields={"active_area_cm2": 1.13, **fields}, layers=layers)


def spe_membrane(**fields):
    from synthesis.models import SpeMembrane
    from synthesis.services import reagent_record_save

    lots = {name: reagent_lot(name, name) for name in ("PEO", "LiFSI", "Pyr14FSI")}
    return reagent_record_save(
        SpeMembrane,
        fields={
            "peo_lot": lots["PEO"],
            "lifsi_lot": lots["LiFSI"],
            "pyr14fsi_lot": lots["Pyr14FSI"],
            **fields,
        },
    )


def symmetric_cell(li=None, pellet=None, **fields):
    li = li or reagent_lot("Lithium foil", "Li", "Li")
    pellet = pellet or pellets(count=1)[0]
    layers = [
        {"side": "negative", "item": li},
        {"side": "electrolyte", "item": pellet},
        {"side": "positive", "item": li},
    ]
    return cell_save(fields={"active_area_cm2": 1.13, **fields}, layers=layers)


def membrane_pieces(count=2, membrane=None, **fields):
    from synthesis.services import membrane_pieces_create

    return membrane_pieces_create(
        membrane=membrane or spe_membrane(thickness_um=20.0), count=count, fields=fields
    )


def eis_upload(api, item, relative: str = "impedance.py/exampleDataBioLogic.mpt", area_cm2=None):
    """Upload a real EIS export of a sample through the API at 25 °C (on `area_cm2`, else the
    sample's own area); the new measurement."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from measurements.models import Measurement
    from tests.instrument_files import instrument_file

    path = instrument_file(relative)
    response = api.post(
        "/api/measurements/",
        {
            "item": item.code,
            "technique": "eis",
            "temperature_c": 25,
            **({"area_cm2": area_cm2} if area_cm2 is not None else {}),
            "files": [SimpleUploadedFile(path.name, path.read_bytes())],
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    return Measurement.objects.get(code=response.json()["code"])


def join(user, role: str, project=None):
    """Make `user` a member of `project` (the default project LAB) with `role`."""
    from core.models import Membership
    from core.permissions import default_project, forget

    Membership.objects.update_or_create(
        project=project or default_project(), user=user, defaults={"role": role}
    )
    forget(user)
    return user
