"""Load on the REST API: requests/s and p50/p99 latency for a detail, a list and a create.

Starts gunicorn (2 workers, loopback only) on PostgreSQL with the demo data, then drives it from
a bounded number of client threads for a bounded number of requests per endpoint.

    .venv/bin/python benchmarks/api_load.py [--requests 2000] [--concurrency 8]
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/lims_load (the default)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8765
ENV = {
    **os.environ,
    "DATABASE_URL": os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/lims_load"
    ),
    "SECRET_KEY": "benchmark-only",
    "DEBUG": "0",
    "LIMS_HTTPS": "0",  # plain http on the loopback
    "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
}


def manage(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def prepare() -> str:
    import psycopg

    url = ENV["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    manage("migrate", "--noinput")
    manage("load_demo", "--no-measurements")
    return (
        manage(
            "shell",
            "-c",
            "from rest_framework.authtoken.models import Token; "
            "from django.contrib.auth.models import User; "
            "print(Token.objects.get_or_create(user=User.objects.get(username='demo'))[0].key)",
        )
        .strip()
        .splitlines()[-1]
    )


def start_server() -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "lims.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=ENV,
    )
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/api/")
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("gunicorn did not start")


def run(method: str, path: str, body_for, token: str, total: int, concurrency: int):
    latencies: list[float] = []
    errors = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        for i in counter:
            body = json.dumps(body_for(i)) if body_for else None
            start = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if response.status >= 400:
                    errors.append(response.status)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return (
        len(latencies) / wall,
        statistics.median(latencies) * 1000,
        latencies[int(0.99 * (len(latencies) - 1))] * 1000,
        len(errors),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    token = prepare()
    server = start_server()
    try:
        chemical = json.loads(_get("/api/chemicals/?page_size=1", token))["results"][0]["name"]
        cases = [
            ("detail GET /api/cells/CELL-0005/", "GET", "/api/cells/CELL-0005/", None),
            ("list   GET /api/pellets/ (12 rows)", "GET", "/api/pellets/", None),
            (
                "list   GET /api/cells/?ancestor=LAGP-0001",
                "GET",
                "/api/cells/?ancestor=LAGP-0001",
                None,
            ),
            (
                "create POST /api/reagent-lots/",
                "POST",
                "/api/reagent-lots/",
                lambda i: {
                    "chemical": chemical,
                    "supplier": "Bench",
                    "lot_number": f"B{i}",
                    "quantity": 100,
                },
            ),
        ]
        print(
            f"gunicorn -w 2 on PostgreSQL, {args.concurrency} client threads, "
            f"{args.requests} requests each"
        )
        print(f"{'endpoint':44} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}")
        for name, method, path, body in cases:
            run(method, path, body, token, min(100, args.requests), 2)  # warm up
            rps, p50, p99, errors = run(method, path, body, token, args.requests, args.concurrency)
            print(f"{name:44} {rps:7.0f} {p50:7.1f} {p99:7.1f} {errors:6d}")
    finally:
        server.terminate()
        server.wait(10)


def _get(path: str, token: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Token {token}"})
    return conn.getresponse().read().decode()


if __name__ == "__main__":
    main()
