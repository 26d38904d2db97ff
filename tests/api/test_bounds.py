"""Every number a user writes has an upper bound and every text a maximum length, so a new
field without one fails here rather than storing 1e308 g or a megabyte of notes."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.validators import MaxLengthValidator, MaxValueValidator
from django.db import models

from core.validators import MaxJsonSize

APPS = ("lims", "synthesis", "cells", "measurements")

# Written by the services and the worker from bounded inputs, never from a request.
SYSTEM_WRITTEN = {
    "lims.CodeCounter.last_number",  # the last code handed out
    "lims.LineageEdge.amount",  # a layer's, pellet's or precursor's (bounded) amount
    "synthesis.LotUse.amount",  # a record's (bounded) mass in the lot's unit
    "synthesis.LotUse.slot",  # a slot's label, from the code
    "lims.ProcessStep.position",  # a step's index in a bounded list
    "lims.AuditEvent.before",
    "lims.AuditEvent.after",
    "cells.CellLayer.position",
    "measurements.RawFile.size_bytes",  # under LIMS_MAX_UPLOAD_MB
    "measurements.Measurement.run",
    "measurements.TemperatureSeries.run",
    "measurements.MeasurementFile.position",
    "measurements.MeasurementFile.parsed_rows",
    "measurements.MeasurementFile.metadata",
    "measurements.MeasurementFile.warnings",
    "measurements.Result.values",
    "measurements.Result.warnings",
    "measurements.TemperatureSeries.points",
    "measurements.TemperatureSeries.warnings",
    "measurements.Result.inputs",
    *(
        f"measurements.CycleRow.{field.name}"
        for field in apps.get_model("measurements", "CycleRow")._meta.concrete_fields
    ),
}


def _editable_fields():
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.concrete_fields:
                name = f"{model._meta.app_label}.{model.__name__}.{field.name}"
                if field.editable and not field.primary_key and name not in SYSTEM_WRITTEN:
                    yield name, field


def _declared(field, kind) -> list:
    """The validators the model declares (not the database backend's integer range)."""
    return [v for v in field.deconstruct()[3].get("validators", []) if isinstance(v, kind)]


NUMBERS = [
    (n, f)
    for n, f in _editable_fields()
    if isinstance(f, models.FloatField | models.IntegerField) and not f.is_relation
]
TEXTS = [
    (n, f) for n, f in _editable_fields() if isinstance(f, models.CharField | models.TextField)
]
JSON = [(n, f) for n, f in _editable_fields() if isinstance(f, models.JSONField)]


@pytest.mark.parametrize("name, field", NUMBERS, ids=[n for n, _ in NUMBERS])
def test_every_number_a_user_writes_has_an_upper_bound(name, field):
    bounds = _declared(field, MaxValueValidator)
    assert bounds, f"{name} has no MaxValueValidator (core.validators.at_most)"
    assert bounds[0].limit_value <= 1e9


@pytest.mark.parametrize("name, field", TEXTS, ids=[n for n, _ in TEXTS])
def test_every_text_a_user_writes_has_a_maximum_length(name, field):
    assert field.max_length, f"{name} has no max_length"
    assert field.max_length <= 10_000
    if isinstance(field, models.TextField):  # full_clean() does not check a TextField's own
        assert [v.limit_value for v in _declared(field, MaxLengthValidator)] == [field.max_length]


@pytest.mark.parametrize("name, field", JSON, ids=[n for n, _ in JSON])
def test_every_json_a_user_writes_is_bounded_in_size(name, field):
    assert _declared(field, MaxJsonSize), f"{name} has no MaxJsonSize"


def test_the_walk_sees_the_fields_it_is_about():
    names = {n for n, _ in NUMBERS} | {n for n, _ in TEXTS} | {n for n, _ in JSON}
    assert {
        "lims.Item.notes",
        "lims.ProcessStep.rpm",
        "synthesis.ReagentLot.quantity",
        "synthesis.PrecursorUse.weighed_mass_g",
        "cells.CellLayer.amount_ul",
        "measurements.Measurement.options",
        "measurements.Measurement.reference_cycle",
    } <= names
