"""Lineage query time on a 100 000-item graph.

Builds (once) a lab-shaped graph in its own database — reagent lots -> powder batches ->
pellets; lots -> coatings -> disks; pellets, lots, membranes, disks -> cells — plus one
500-generation chain to show the query does not care about depth, then times the recursive-CTE
query both ways.

    .venv/bin/python benchmarks/lineage_query.py                    # SQLite (var/bench.sqlite3)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/lims_bench .venv/bin/python benchmarks/lineage_query.py
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench.sqlite3'}"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lims.settings")
os.environ.setdefault("SECRET_KEY", "benchmark")
(ROOT / "var").mkdir(exist_ok=True)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.utils import OperationalError  # noqa: E402

from core.models import Item, LineageEdge  # noqa: E402
from core.selectors import lineage  # noqa: E402

SHAPE = {  # kind: count (100 000 items in all)
    "reagent_lot": 2_000,
    "lagp_batch": 3_000,
    "pellet": 45_000,
    "spe_membrane": 4_000,
    "ile_batch": 1_000,
    "cathode_coating": 1_000,
    "electrode_disk": 24_000,
    "cell": 19_500,
}
CHAIN = 500


def ensure_database() -> None:
    try:
        connection.ensure_connection()
    except OperationalError:
        if connection.vendor != "postgresql":
            raise
        import psycopg

        settings = connection.settings_dict
        with psycopg.connect(
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'CREATE DATABASE "{settings["NAME"]}"')
    call_command("migrate", verbosity=0)


def build_graph() -> None:
    rng = random.Random(7)
    ids: dict[str, list[int]] = {}
    with transaction.atomic():
        for kind, count in SHAPE.items():
            prefix = kind[:4].upper()
            Item.objects.bulk_create(
                [Item(code=f"B{prefix}-{i:06d}", kind=kind) for i in range(count)], batch_size=5000
            )
            ids[kind] = list(Item.objects.filter(kind=kind).values_list("id", flat=True))
        chain = Item.objects.bulk_create(
            [Item(code=f"BCHAIN-{i:04d}", kind="pellet") for i in range(CHAIN)]
        )
        edges = set()

        def parents(child_kind, parent_kind, n):
            for child in ids[child_kind]:
                for parent in rng.sample(ids[parent_kind], n):
                    edges.add((parent, child))

        parents("lagp_batch", "reagent_lot", 4)
        parents("pellet", "lagp_batch", 1)
        parents("spe_membrane", "reagent_lot", 4)
        parents("ile_batch", "reagent_lot", 2)
        parents("cathode_coating", "reagent_lot", 5)
        parents("electrode_disk", "cathode_coating", 1)
        parents("cell", "pellet", 1)
        parents("cell", "reagent_lot", 1)  # lithium foil
        parents("cell", "spe_membrane", 1)
        parents("cell", "ile_batch", 1)
        parents("cell", "electrode_disk", 1)
        for parent, child in zip(chain, chain[1:], strict=False):
            edges.add((parent.id, child.id))
        LineageEdge.objects.bulk_create(
            [LineageEdge(parent_id=p, child_id=c, role="other") for p, c in edges],
            batch_size=10_000,
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(fn, repeat: int) -> tuple[float, float, int]:
    samples, size = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        size = len(fn())
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))], size


def main() -> None:
    ensure_database()
    if not Item.objects.filter(code__startswith="BCHAIN-").exists():
        start = time.perf_counter()
        build_graph()
        print(f"built graph in {time.perf_counter() - start:.1f} s")
    items, edges = Item.objects.count(), LineageEdge.objects.count()
    print(f"database: {connection.vendor}; {items} items, {edges} edges")
    rng = random.Random(11)
    cells = list(Item.objects.filter(kind="cell").values_list("id", flat=True)[:2000])
    lots = list(Item.objects.filter(kind="reagent_lot").values_list("id", flat=True)[:2000])
    batches = list(Item.objects.filter(kind="lagp_batch").values_list("id", flat=True)[:2000])
    chain = list(
        Item.objects.filter(code__startswith="BCHAIN-")
        .order_by("code")
        .values_list("id", flat=True)
    )
    cases = [
        ("ancestors of a cell", lambda: lineage(rng.choice(cells), "ancestors"), 200),
        ("descendants of a powder batch", lambda: lineage(rng.choice(batches), "descendants"), 200),
        ("descendants of a reagent lot", lambda: lineage(rng.choice(lots), "descendants"), 50),
        (
            f"ancestors at the end of a {CHAIN}-deep chain",
            lambda: lineage(chain[-1], "ancestors"),
            50,
        ),
    ]
    print(f"{'query':48} {'median ms':>10} {'p90 ms':>8} {'rows':>6}")
    for name, fn, repeat in cases:
        median, p90, size = timed(fn, repeat)
        print(f"{name:48} {median:10.2f} {p90:8.2f} {size:6d}")


if __name__ == "__main__":
    main()
