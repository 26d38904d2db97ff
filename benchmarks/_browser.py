"""Page loads timed in Debian's chromium against a real `runserver` (shared by the benchmarks
that measure what a person waits for: navigation until every plot on the page is drawn)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# True once every plot container on the page has been drawn by LIMS.plot (static/lims/plotkit.js).
ALL_PLOTTED = (
    "(selector) => { const p = [...document.querySelectorAll(selector)];"
    " return p.length > 0 && p.every(e => e.dataset.plotted === 'true'); }"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_load_times(
    paths: dict[str, str],
    *,
    login: tuple[str, str],
    runs: int,
    env: dict[str, str],
    plots: str = "div.plot",
) -> dict[str, list[float]]:
    """Seconds from navigation to every `plots` element drawn, `runs` times per path; empty
    when chromium is not installed."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return {}
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        out: dict[str, list[float]] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(
                base_url=f"http://127.0.0.1:{port}", viewport={"width": 1300, "height": 900}
            )
            page.set_default_timeout(120_000)
            page.goto("/accounts/login/")
            page.fill("#id_username", login[0])
            page.fill("#id_password", login[1])
            page.click("button[type=submit]")
            page.wait_for_load_state()
            for name, path in paths.items():
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    page.goto(path)
                    page.wait_for_function(ALL_PLOTTED, arg=plots)
                    times.append(time.perf_counter() - start)
                out[name] = times
            browser.close()
        return out
    finally:
        server.terminate()
        server.wait()
