"""The layering of docs/architecture.md, checked with import-linter's own contracts (the ones
`make lint` runs from pyproject.toml): the code keeps them, and each one fails when an import
it forbids is added, so a broken contract cannot pass unnoticed."""

from __future__ import annotations

import copy
import functools
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.configuration import configure
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

configure()  # import-linter's own settings (graph builder, timer), as its CLI sets them
ROOT = Path(__file__).resolve().parent.parent
CONTRACT_TYPES = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


@functools.cache
def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


@functools.cache
def _graph() -> grimp.ImportGraph:
    session = _session()
    return grimp.build_graph(
        *session["root_packages"],
        include_external_packages=session.get("include_external_packages", False),
        cache_dir=None,
    )


def _session() -> dict:
    return {k: v for k, v in _config().items() if k != "contracts"}


def _contracts():
    # import-linter's TOML reader hands booleans to the fields as strings.
    options = [
        {k: str(v).lower() if isinstance(v, bool) else v for k, v in c.items()}
        for c in _config()["contracts"]
    ]
    return [
        CONTRACT_TYPES[c["type"]](name=c["name"], session_options=_session(), contract_options=c)
        for c in options
    ]


def _contract(prefix: str):
    (match,) = [c for c in _contracts() if c.name.startswith(prefix)]
    return match


def test_pyproject_names_the_five_contracts():
    names = [c.name.split(":")[0] for c in _contracts()]
    assert len(names) == 5 and names[0] == "Layers"


@pytest.mark.parametrize("contract", _contracts(), ids=lambda c: c.name[:40])
def test_the_code_keeps_the_contract(contract):
    check = contract.check(copy.deepcopy(_graph()), verbose=False)
    assert check.kept, contract.render_broken_contract(check)


@pytest.mark.parametrize(
    ("importer", "imported", "contract"),
    [
        # The core reaching up into an app, and an app into the composition layer.
        ("core.models", "synthesis.models", "Layers"),
        ("measurements.services", "demo.records", "Layers"),
        # The arrow this layering removed: a disk's service queuing the cells' recompute.
        ("synthesis.services", "cells.services", "Layers"),
        ("cells.models", "measurements.models", "Layers"),
        ("measurements.services", "synthesis.models", "Measurements attach"),
        ("measurements.analysis.eis", "django", "Science is pure"),
        ("measurements.parsers.maccor", "core.models", "Science is pure"),
        ("measurements.services", "measurements.tasks", "Services enqueue"),
        # views -> base exists; base -> views closes a circle.
        ("core.api.base", "core.api.views", "No import circles"),
    ],
)
def test_an_import_against_the_layering_breaks_its_contract(importer, imported, contract):
    graph = copy.deepcopy(_graph())
    graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import")
    assert not _contract(contract).check(graph, verbose=False).kept
