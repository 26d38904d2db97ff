"""List endpoints cost a constant number of queries, whatever the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.services import record_save
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
    # are any) and one per step column
    "/api/lineage-table/?retention_at_cycle=100&step=uv_crosslinking.duration_min": (_cells, 17),
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
