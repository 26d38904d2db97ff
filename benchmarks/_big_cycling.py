"""The processed 1.5-million-row, 400-cycle cycling measurement the benchmarks share (import
after `django.setup()`, with the benchmark's own database and media folder configured)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.files import File
from django.core.management import call_command

from core.audit import acting_as
from demo.records import ensure_users, load_demo
from demo.synthetic.files import write_maccor_cycling
from measurements import services
from measurements.models import Measurement

ROOT = Path(__file__).resolve().parents[1]
BIG = ROOT / "var" / "bench" / "maccor_1p5M.txt"  # benchmarks/cycling_parse_summary.py's file


def big_cycling_measurement(folder: Path, note: str) -> Measurement:
    """The measurement (marked by `note`) in the database, made on the first run: the demo
    records, then the Maccor export uploaded to the demo's full cell and processed in-process,
    as the worker does."""
    folder.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)
    found = Measurement.objects.filter(notes=note, status="done").first()
    if found:
        return found
    if not BIG.exists():
        write_maccor_cycling(BIG, n_cycles=400, rows_per_cycle=3750, active_mass_mg=3.054)
    user, _ = ensure_users("demo-lims")
    records = load_demo(user)
    with acting_as(user), open(BIG, "rb") as fh:
        m = services.measurement_create(
            user=user,
            item=records["full_spe"],
            fields={"technique": "cycling", "active_mass_mg": 3.054, "notes": note},
            uploads=[File(fh, name=BIG.name)],
        )
    m.refresh_from_db()
    start = time.perf_counter()
    print("processing:", services.process_measurement(m.pk, m.run), end=" ")
    print(f"({time.perf_counter() - start:.1f} s, includes building the default plot payload)")
    m.refresh_from_db()
    return m
