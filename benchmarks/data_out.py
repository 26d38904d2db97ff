"""Time and web-process peak memory of `GET /api/measurements/<code>/data/` for the 1.5-million-
row cycling measurement, in each format, through gunicorn (one sync worker, as production runs).

    .venv/bin/python benchmarks/data_out.py [--repeat 3] [--app-dir PATH] [--port 0]

Uses its own SQLite database and media folder under var/bench/data_out/ (made once: the demo
records, then the 400-cycle, 1.5-million-row Maccor export of benchmarks/cycling_parse_summary.py
uploaded to the demo's full cell and processed in-process, as the worker does). Then starts
`gunicorn lims.wsgi` from --app-dir (default: this checkout; pass a checkout of an older commit
to measure the code before a change on the same data) and, for each request, medians of
--repeat runs of:
- the time from sending the request to its last byte (read in 1 MiB chunks and dropped, as a
  streaming client does);
- the worker process's peak resident memory during the request (VmHWM, reset through
  /proc/<pid>/clear_refs before each request), and its resident memory before it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HERE = ROOT / "var" / "bench" / "data_out"
ENV = {
    "DEBUG": "0",
    "LIMS_HTTPS": "0",  # plain http on the loopback
    "SECRET_KEY": "data-out-benchmark",
    "DATABASE_URL": f"sqlite:///{HERE / 'db.sqlite3'}",
    "LIMS_VAR_DIR": str(HERE),
    "MEDIA_ROOT": str(HERE / "media"),
    "DJANGO_SETTINGS_MODULE": "lims.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "CELERY_TASK_ALWAYS_EAGER": "1",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

from benchmarks._big_cycling import big_cycling_measurement  # noqa: E402
from core.api.tokens import token_rotate  # noqa: E402
from demo.records import ensure_users  # noqa: E402
from measurements.models import Measurement  # noqa: E402

NOTE = "data_out benchmark"
CHUNK = 1024 * 1024


def measurement() -> Measurement:
    """The processed 1.5-million-row measurement (made on the first run)."""
    return big_cycling_measurement(HERE, NOTE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise RuntimeError(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def start_server(app_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "lims.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "300",
            "--chdir",
            str(app_dir),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=app_dir,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("gunicorn did not answer within 60 s")


def fetch(url: str, token: str) -> tuple[int, int, bytes]:
    """(status, bytes received, the first KiB of the body), the body read in chunks."""
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        response = urllib.request.urlopen(request, timeout=600)
    except urllib.error.HTTPError as exc:
        response = exc
    size, head = 0, b""
    while chunk := response.read(CHUNK):
        if len(head) < 1024:
            head += chunk[: 1024 - len(head)]
        size += len(chunk)
    return response.status, size, head


def walk(url: str, token: str) -> tuple[int, int, bytes]:
    """Every JSON page, following `next` from `url`; each body is streamed and dropped like
    the others, `next` taken from its head (the keys before "results")."""
    size, status, head = 0, 0, b""
    while url:
        status, page_size, page_head = fetch(url, token)
        size, head = size + page_size, head or page_head
        opening = page_head[: page_head.index(b',"results":[')] + b"}"
        url = json.loads(opening).get("next")  # none before paging existed
    return status, size, head


def measure(pid: int, url: str, token: str, repeat: int, pages: bool = False) -> dict:
    times, peaks, before = [], [], []
    status = size = 0
    for _ in range(repeat):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
        before.append(status_kb(pid, "VmRSS"))
        start = time.perf_counter()
        status, size, head = walk(url, token) if pages else fetch(url, token)
        times.append(time.perf_counter() - start)
        peaks.append(status_kb(pid, "VmHWM"))
    return {
        "status": status,
        "bytes": size,
        "seconds": statistics.median(times),
        "peak_mb": statistics.median(peaks) / 1024,
        "before_mb": statistics.median(before) / 1024,
        "head": head,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    args = parser.parse_args()
    m = measurement()
    rows = sum(f.parsed_rows or 0 for f in m.files.all())
    user, _ = ensure_users("demo-lims")
    token = token_rotate(user).key
    port = args.port or free_port()
    base = f"http://127.0.0.1:{port}/api/measurements/{m.code}/data/"
    cases = [
        ("parquet", "?format=parquet"),
        ("csv", "?format=csv"),
        ("json, whole series", ""),
        ("json, every=10", "?every=10"),
        ("json, one page of 200,000", "?offset=600000&limit=200000"),
        ("json, all 8 pages by next", "?limit=200000"),
    ]
    server = start_server(args.app_dir.resolve(), port)
    try:
        pid = worker_pid(server.pid)
        fetch(f"{base}?every=100000", token)  # load the views and libraries once
        print(
            f"{m.code}: {rows:,} rows; app {args.app_dir}; gunicorn, 1 sync worker "
            f"({status_kb(pid, 'VmRSS') / 1024:.0f} MB resident when idle); "
            f"medians of {args.repeat}; +MB: peak above the resident memory before the request"
        )
        print(
            f"{'request':28} {'status':>6} {'MB sent':>8} {'time s':>7} {'peak MB':>8} {'+MB':>6}"
        )
        for name, query in cases:
            r = measure(pid, base + query, token, args.repeat, pages="pages" in name)
            print(
                f"{name:28} {r['status']:>6} {r['bytes'] / 1e6:>8.1f} {r['seconds']:>7.2f} "
                f"{r['peak_mb']:>8.0f} {r['peak_mb'] - r['before_mb']:>6.0f}"
            )
            if r["status"] >= 400:
                print("   ", json.loads(r["head"]).get("detail", r["head"][:200]))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
