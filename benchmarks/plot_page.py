"""Server time and payload size of a 1.5-million-row cycling measurement's page, and the
browser's time until every plot is drawn.

    .venv/bin/python benchmarks/plot_page.py [--repeat 7] [--no-browser]

Uses its own SQLite database and media folder under var/bench/plot_page/ (made once: the demo
records, then the 400-cycle, 1.5-million-row Maccor export of benchmarks/cycling_parse_summary.py
uploaded to the demo's full cell and processed in-process, as the worker does). Then, medians
of --repeat runs:
- the page's server time through Django's test client: with the payload cached (what every
  visit after the worker's run gets), and built from the Parquet (the cache removed first);
- the same for other cycles (``?cycles=2,50,200,399``: built on first view, then cached);
- the size of the embedded plot JSON and of the whole page;
- with Debian's chromium (unless --no-browser), the time from navigation to every plot drawn,
  against `manage.py runserver` on a free port.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HERE = ROOT / "var" / "bench" / "plot_page"
ENV = {
    "DEBUG": "1",
    "DATABASE_URL": f"sqlite:///{HERE / 'db.sqlite3'}",
    "LIMS_VAR_DIR": str(HERE),
    "MEDIA_ROOT": str(HERE / "media"),
    "DJANGO_SETTINGS_MODULE": "lims.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402

from benchmarks._big_cycling import big_cycling_measurement  # noqa: E402
from benchmarks._browser import page_load_times  # noqa: E402
from measurements import storage  # noqa: E402
from measurements.models import Measurement  # noqa: E402

NOTE = "plot_page benchmark"


def measurement() -> Measurement:
    """The processed 1.5-million-row measurement (made on the first run)."""
    return big_cycling_measurement(HERE, NOTE)


def timed_get(client: Client, url: str, repeat: int, *, cold: bool) -> tuple[float, bytes]:
    times, body = [], b""
    for _ in range(repeat):
        if cold:
            shutil.rmtree(storage.root() / "plots", ignore_errors=True)
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        body = response.content
    return statistics.median(times), body


def payload_size(body: bytes) -> int:
    found = re.search(rb'<script id="plot-data" type="application/json">(.*?)</script>', body, re.S)
    return len(found.group(1)) if found else 0


def browser_times(code: str, repeat: int) -> list[float]:
    times = page_load_times(
        {"page": f"/measurements/{code}/"},
        login=("demo", "demo-lims"),
        runs=repeat,
        env=ENV,
        plots=".plot-grid .plot",
    )
    return times.get("page", [])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    m = measurement()
    rows = m.files.get().parsed_rows
    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    url = f"/measurements/{m.code}/"
    client.get(url)  # warm the database connection and the template cache
    cached, body = timed_get(client, url, args.repeat, cold=False)
    cold, _ = timed_get(client, url, args.repeat, cold=True)
    client.get(url)  # leave the default payload cached
    other = f"{url}?cycles=2,50,200,399"
    other_cold, _ = timed_get(client, other, args.repeat, cold=True)
    client.get(url)
    print(f"{m.code}: {rows:,} rows, {m.cycles.count()} cycles; medians of {args.repeat}")
    print(f"page, payload cached      {cached * 1000:7.1f} ms")
    print(f"page, payload built       {cold * 1000:7.1f} ms")
    print(f"page, other cycles built  {other_cold * 1000:7.1f} ms")
    print(f"plot JSON {payload_size(body) / 1024:.0f} KiB, page {len(body) / 1024:.0f} KiB")
    if not args.no_browser:
        times = browser_times(m.code, args.repeat)
        print(
            f"browser, navigation to every plot drawn: median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f})"
        )


if __name__ == "__main__":
    main()
