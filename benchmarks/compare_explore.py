"""Page-load time of the comparison view with 50 cells and of the explorer.

Builds a throwaway database (SQLite in a temporary folder, removed at the end) with 50 full
cells, each with a 200-cycle Maccor cycling export, and 50 pellets with a 25 °C impedance
spectrum (ten of them also at 40, 60 and 80 °C, so they have Arrhenius fits), processed as the
worker would. Then times, as medians of several runs:

- server time: the Django response of `/compare/?items=<50 cells>&cycle=10`, of
  `/compare/?items=<50 pellets>` and of `/explore/` plus the lineage-table API page the
  explorer fetches;
- browser time (Playwright, Debian's chromium, if installed): from navigation to every plot
  drawn (`data-plotted` on each plot div), against `manage.py runserver`.

    .venv/bin/python benchmarks/compare_explore.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="lims-bench-compare-"))
os.environ.update(
    {
        "DATABASE_URL": f"sqlite:///{WORK / 'bench.sqlite3'}",
        "LIMS_VAR_DIR": str(WORK),
        "MEDIA_ROOT": str(WORK / "media"),
        "DEBUG": "0",
        "LIMS_HTTPS": "0",  # plain http on the loopback
        "SECRET_KEY": "benchmark",
        "DJANGO_SETTINGS_MODULE": "lims.settings",
    }
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files import File  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks._browser import page_load_times  # noqa: E402
from core.audit import acting_as  # noqa: E402
from demo.records import PT_ELECTRODE_AREA_CM2, _lagp_spectrum  # noqa: E402
from demo.synthetic import exports  # noqa: E402
from demo.synthetic import spectra as syn  # noqa: E402
from demo.synthetic.files import write_maccor_cycling  # noqa: E402
from lims.celery import app as celery_app  # noqa: E402
from measurements.services import measurement_create  # noqa: E402
from tests import factories  # noqa: E402

N = 50
RUNS = 7
CYCLES = 200


def upload(user, item, technique, path, **fields):
    with open(path, "rb") as fh:
        return measurement_create(
            user=user, item=item, fields={"technique": technique, **fields},
            uploads=[File(fh, name=path.name)],
        )  # fmt: skip


def build(user) -> tuple[list[str], list[str]]:
    files = WORK / "files"
    files.mkdir()
    li = factories.reagent_lot("Lithium foil", "Li", "Li")
    pellets = factories.pellets(count=2 * N)
    disks = factories.cathode_disks(count=N)
    cells = []
    for i, (pellet, disk) in enumerate(zip(pellets[:N], disks, strict=True)):
        cell = factories.full_cell(li=li, pellet=pellet, disk=disk)
        path = write_maccor_cycling(
            files / f"{cell.code}.txt", n_cycles=CYCLES, rows_per_cycle=40, c_rate=0.2,
            active_mass_mg=cell.active_mass_mg, retention_at_last=0.5 + 0.4 * i / N, seed=i,
        )  # fmt: skip
        upload(user, cell, "cycling", path, instrument="maccor_4300")
        cells.append(cell.code)
    samples = []
    for i, pellet in enumerate(pellets[N:]):
        temperatures = [25.0, 40.0, 60.0, 80.0] if i < 10 else [25.0]
        sigmas = syn.arrhenius_series(temperatures, ea_ev=0.33 + 0.005 * i)[1]
        for t, sigma in zip(temperatures, sigmas, strict=True):
            resistance = 0.06 / (sigma * PT_ELECTRODE_AREA_CM2)
            path = exports.write_mpt_eis(
                files / f"{pellet.code}_{t:g}.mpt", _lagp_spectrum(resistance, i + int(t))
            )
            upload(
                user, pellet, "eis", path, temperature_c=t, thickness_um=600.0,
                area_cm2=PT_ELECTRODE_AREA_CM2,
            )  # fmt: skip
        samples.append(pellet.code)
    return cells, samples


def server_ms(client: Client, url: str) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = client.get(url)
        times.append(1000 * (time.perf_counter() - start))
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def browser_ms(urls: dict[str, str]) -> dict[str, float]:
    times = page_load_times(
        urls, login=("bench", "bench-pw-123"), runs=RUNS, env={"DEBUG": "1"}, plots="div.plot"
    )
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def main() -> None:
    try:
        call_command("migrate", verbosity=0)
        celery_app.conf.task_always_eager = True  # the worker's processing, in this process
        user = get_user_model().objects.create_user("bench", password="bench-pw-123", is_staff=True)
        start = time.perf_counter()
        with acting_as(user):
            cells, samples = build(user)
        print(f"built {N} cells ({CYCLES} cycles each) and {N} pellets in "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        client = Client()
        client.force_login(user)
        urls = {
            f"compare {N} cells (cycle 10)": f"/compare/?items={','.join(cells)}&cycle=10",
            f"compare {N} pellets": f"/compare/?items={','.join(samples)}",
            "explore cells (page)": "/explore/?retention_at_cycle=100"
            "&x=pellet_sintering_temperature_c&y=retention_at_cycle_100_pct",
        }
        api = "/api/lineage-table/?root_kind=cell&retention_at_cycle=100&page_size=1000"
        print(f"server time, median of {RUNS} runs:")
        for name, url in urls.items():
            print(f"  {name}: {server_ms(client, url):.0f} ms")
        print(f"  explorer's API fetch ({N} cells): {server_ms(client, api):.0f} ms")
        shown = browser_ms(urls)
        if shown:
            print(f"browser time to every plot drawn (chromium), median of {RUNS} runs:")
            for name, ms in shown.items():
                print(f"  {name}: {ms:.0f} ms")
        else:
            print("browser time: chromium not installed, skipped")
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
