"""List endpoints cost a constant number of queries, whatever the number of rows."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.services import record_save
from measurements import services, storage
from measurements.models import CycleRow, Measurement, MeasurementFile, RawFile, Result
from synthesis.models import CathodeCoating, Chemical, IleBatch, SpeMembrane
from synthesis.services import electrode_disks_create, pellet_set_create
from tests import factories


def _lots(n, names=()):
    names = list(names) or [f"Chemical {i}" for i in range(n)]
    return [factories.reagent_lot(name, f"C{i}") for i, name in enumerate(names)]


def _membranes(n):
    peo, lifsi, pyr, bp = _lots(4, ["PEO", "LiFSI", "Pyr14FSI", "Benzophenone"])
    fields = {"peo_lot": peo, "lifsi_lot": lifsi, "pyr14fsi_lot": pyr, "benzophenone_lot": bp}
    steps = [{"kind": "vacuum_drying", "temperature_c": 100}]
    for _ in range(n):
        record_save(SpeMembrane, fields=fields, steps=steps)


def _ile(n):
    pyr, litfsi = _lots(2, ["Pyr14FSI", "LiTFSI"])
    for _ in range(n):
        record_save(IleBatch, fields={"pyr14fsi_lot": pyr, "litfsi_lot": litfsi}, steps=[])


def _coatings(n):
    active, carbon, binder = _lots(3, ["NCM811", "Super C65", "PVdF"])
    for _ in range(n):
        record_save(
            CathodeCoating,
            fields={"active_lot": active, "carbon_lot": carbon, "binder_lot": binder},
            steps=[{"kind": "drying", "temperature_c": 120}],
        )


def _disks(n):
    if not CathodeCoating.objects.exists():
        factories.cathode_disks(count=1)
        n -= 1
    if n:
        electrode_disks_create(coating=CathodeCoating.objects.get(), count=n, fields={})


def _pellet_sets(n):
    batch = factories.lagp_batch()
    for _ in range(n):
        pellet_set_create(batch=batch, count=2, fields={})


def _cells(n):
    """Full cells sharing their lithium lot, each with its own pellet and disk (a piece goes
    into one cell)."""
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellets = factories.pellets(count=n)
    disks = factories.cathode_disks(count=n)
    for pellet, disk in zip(pellets, disks, strict=True):
        factories.full_cell(li=li, pellet=pellet, disk=disk)


def _chemicals(n):
    start = Chemical.objects.count()
    Chemical.objects.bulk_create(
        [Chemical(name=f"chemical {start + i}", category="other") for i in range(n)]
    )


# endpoint -> (how to make n records, queries a list page costs). The counts include the token
# lookup (1) and pagination's COUNT (1); pinned so that an N+1 shows up as a failure here.
LISTS = {
    "/api/chemicals/": (_chemicals, 3),
    "/api/reagent-lots/": (_lots, 3),
    "/api/lagp-batches/": (lambda n: [factories.lagp_batch() for _ in range(n)], 6),
    "/api/pellet-sets/": (_pellet_sets, 4),
    "/api/pellets/": (lambda n: factories.pellets(count=n), 3),
    "/api/spe-membranes/": (_membranes, 4),
    "/api/ile-batches/": (_ile, 4),
    "/api/cathode-coatings/": (_coatings, 4),
    "/api/electrode-disks/": (_disks, 3),
    "/api/cells/": (_cells, 5),
    "/api/items/": (_lots, 3),
    # roots, layers, one recursive walk, each ancestor kind with its own prefetches, and one
    # query for the result columns (cycling, stripping, conductivity)
    "/api/lineage-table/": (_cells, 15),
    "/api/lineage-table/?root_kind=pellet": (lambda n: factories.pellets(count=n), 9),
    # + one for retention at cycle N (the summaries; their cycle rows are one more when there
    # are any), one per step column, and one for which ancestors' steps the user may see
    "/api/lineage-table/?retention_at_cycle=100&step=uv_crosslinking.duration_min": (_cells, 18),
    # + one for the conductivity at 60 °C (measured or from the fits)
    "/api/lineage-table/?root_kind=pellet&conductivity_at_c=60": (
        lambda n: factories.pellets(count=n),
        10,
    ),
}


def _queries(api, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("url", list(LISTS))
def test_a_list_costs_the_same_queries_for_1_and_20_records(api, url):
    make, pinned = LISTS[url]
    make(1)
    one = _queries(api, url)
    make(19)
    assert api.get(url).json()["count"] >= 20
    twenty = _queries(api, url)
    assert (one, twenty) == (pinned, pinned)


# --- measurements: lists, one measurement, its per-cycle table and its data ---------------


def _stored_file(measurement, index: int) -> None:
    """A parsed file of the measurement: a small stored Parquet and its rows, as the worker
    leaves them (no parsing: the query count is what is measured)."""
    sha = hashlib.sha256(f"{measurement.code}-{index}".encode()).hexdigest()
    raw = RawFile.objects.create(
        sha256=sha, size_bytes=1, original_name=f"f{index}.txt", storage_path=f"raw/{sha}"
    )
    target = storage.parsed_key(sha, "maccor", "q")
    frame = pl.DataFrame(
        {"time_s": [0.0, 1.0, 2.0], "voltage_V": [3.0, 3.5, 4.0], "cycle": [1, 1, 2]}
    )
    storage.write_parquet(frame, target)
    MeasurementFile.objects.create(
        measurement=measurement,
        raw_file=raw,
        filename=raw.original_name,
        position=index,
        parser="maccor",
        parsed_path=target,
        parsed_rows=frame.height,
    )


def _measurement(item, files: int = 1, cycles: int = 0) -> Measurement:
    m = services.measurement_create(item=item, fields={"technique": "cycling"})
    for index in range(files):
        _stored_file(m, index)
    for kind in ("cycling_summary", "rate_table"):
        Result.objects.create(
            item=item,
            measurement=m,
            kind=kind,
            values={"n": 1},
            warnings=[{"code": "w", "message": "m"}],
            algorithm_version="1",
        )
    CycleRow.objects.bulk_create(
        CycleRow(measurement=m, cycle=c, discharge_mAh_g=190.0) for c in range(1, cycles + 1)
    )
    Measurement.objects.filter(pk=m.pk).update(status="done")
    return m


@pytest.fixture
def cell(db):
    return factories.full_cell()


def _many(cell, n: int) -> None:
    for _ in range(n):
        _measurement(cell, files=2)


# endpoint -> queries of one page, for 5 rows as for 50; counts include the token lookup.
MEASUREMENT_LISTS = {
    # COUNT, rows, then files, their raw files, results and the results' items
    "/api/measurements/": 7,
    "/api/results/": 3,
    "/api/results/?kind=cycling_summary": 3,
}


@pytest.mark.parametrize("url", list(MEASUREMENT_LISTS))
def test_measurement_lists_cost_the_same_queries_for_5_and_50_rows(api, cell, url):
    _many(cell, 5)
    few = _queries(api, url)
    _many(cell, 45)
    assert api.get(url).json()["count"] >= 50
    many = _queries(api, url)
    assert (few, many) == (MEASUREMENT_LISTS[url],) * 2


def test_one_measurement_costs_the_same_queries_with_1_and_5_files(api, cell):
    one, five = _measurement(cell, files=1), _measurement(cell, files=5)
    counts = [_queries(api, f"/api/measurements/{m.code}/") for m in (one, five)]
    assert counts == [6, 6]  # token, measurement, files, raw files, results, results' items


def test_the_per_cycle_table_costs_the_same_queries_for_10_and_500_cycles(api, cell):
    ten, five_hundred = _measurement(cell, cycles=10), _measurement(cell, cycles=500)
    counts = [_queries(api, f"/api/measurements/{m.code}/cycles/") for m in (ten, five_hundred)]
    assert counts == [3, 3]  # token, measurement, its cycle rows


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_the_data_costs_the_same_queries_for_1_and_5_files(api, cell, fmt):
    one, five = _measurement(cell, files=1), _measurement(cell, files=5)
    counts = []
    for m in (one, five):
        with CaptureQueriesContext(connection) as queries:
            response = api.get(f"/api/measurements/{m.code}/data/?format={fmt}")
            assert response.status_code == 200
            body = b"".join(response.streaming_content)  # streamed: no query while it is sent
        assert body
        counts.append(len(queries))
    assert counts == [3, 3]  # token, measurement, its files


def test_an_items_lineage_costs_the_same_queries_for_2_and_40_descendants(api, db):
    batch = factories.lagp_batch()
    pellet_set_create(batch=batch, count=2, fields={})
    url = f"/api/items/{batch.code}/lineage/?direction=descendants"
    few = _queries(api, url)
    pellet_set_create(batch=batch, count=38, fields={})
    assert len(api.get(url).json()) == 40
    # token, the item, one recursive walk, the user's projects (rows of others are redacted)
    assert (few, _queries(api, url)) == (4, 4)
