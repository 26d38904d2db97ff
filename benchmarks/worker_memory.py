"""Memory of a real worker's pool process over consecutive 1.5-million-row cycling tasks, without
and with recycling (Celery's worker_max_memory_per_child, setting LIMS_WORKER_MAX_MEMORY_MB).

    .venv/bin/python benchmarks/worker_memory.py [--tasks 5] [--recycle-mb 400]

Uses a database, broker folder and media store of its own under var/bench/worker-memory (SQLite,
kombu's filesystem broker), writes five different 165 MB Maccor exports once (seeds 0-4, so no
task reuses another's parsed Parquet), starts `celery -A lims worker --pool=prefork
--concurrency=1` and uploads them one after the other, each after the previous one is done. The
pool process's resident memory (VmRSS in /proc) is sampled every 20 ms: before each task, the
peak during it and after it (after a recycle, that of the fresh pool process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAR = ROOT / "var" / "bench" / "worker-memory"
FILES = ROOT / "var" / "bench"

os.environ.update(
    {
        "DEBUG": "1",
        "LIMS_VAR_DIR": str(VAR),
        "DJANGO_SETTINGS_MODULE": "lims.settings",
        "CELERY_QUEUE": f"bench-memory-{uuid.uuid4().hex[:8]}",
        "DATABASE_URL": f"sqlite:///{VAR / 'bench.sqlite3'}",
    }
)
os.environ.pop("CELERY_BROKER_URL", None)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


def pool_child(worker_pid: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["pgrep", "-P", str(worker_pid)], capture_output=True, text=True)
        pids = [int(p) for p in out.stdout.split()]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise RuntimeError("the worker started no pool process")


def settled_child(worker_pid: int) -> tuple[int, float]:
    """The pool process once it is there and its memory stopped moving (a recycled one is
    forked and imports the app first)."""
    last = None
    while True:
        pid = pool_child(worker_pid)
        rss = rss_mb(pid)
        if rss is not None and last is not None and last[0] == pid and abs(rss - last[1]) < 1:
            return pid, rss
        last = (pid, rss) if rss is not None else None
        time.sleep(0.5)


def start_worker(max_memory_mb: int, max_tasks: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "LIMS_WORKER_MAX_MEMORY_MB": str(max_memory_mb),
        "LIMS_WORKER_MAX_TASKS_PER_CHILD": str(max_tasks),
    }
    command = [
        sys.executable, "-m", "celery", "-A", "lims", "worker", "--pool=prefork",
        "--concurrency=1", "-Q", os.environ["CELERY_QUEUE"], "--without-gossip",
        "--without-mingle", "--without-heartbeat", "--loglevel=info", f"--logfile={log}",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )


def run_mode(label: str, max_memory_mb: int, max_tasks: int, files: list[Path], cell) -> None:
    from django.core.files import File
    from django.db import connection

    from measurements.models import Measurement
    from measurements.services import measurement_create

    worker = start_worker(max_memory_mb, max_tasks, VAR / f"worker-{label}.log")
    try:
        print(
            f"\n{label}: LIMS_WORKER_MAX_MEMORY_MB={max_memory_mb}, max tasks per child {max_tasks}"
        )
        print("task  pool pid   before MB   peak MB   after MB   seconds")
        for n, path in enumerate(files, start=1):
            child, before = settled_child(worker.pid)
            start = time.monotonic()
            with open(path, "rb") as fh:
                m = measurement_create(
                    item=cell, fields={"technique": "cycling"}, uploads=[File(fh, name=path.name)]
                )
            peak, pids = before, {child}
            while True:
                for pid in list(pids) + [pool_child(worker.pid)]:
                    pids.add(pid)
                    peak = max(peak, rss_mb(pid) or 0.0)
                connection.close()
                status = Measurement.objects.get(pk=m.pk).status
                if status not in {"queued", "processing"}:
                    break
                if time.monotonic() - start > 600:
                    raise RuntimeError(f"task {n} did not finish")
                time.sleep(0.02)
            seconds = time.monotonic() - start
            time.sleep(1.0)  # a recycle (if any) has begun replacing the pool process
            after_pid, after = settled_child(worker.pid)
            recycled = " (recycled)" if after_pid != child else ""
            print(
                f"{n:>4}  {child:>8}   {before:>9.0f}   {peak:>7.0f}   {after:>8.0f}   "
                f"{seconds:>7.1f}  {status}{recycled}"
            )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5)
    parser.add_argument("--recycle-mb", type=int, default=400)
    args = parser.parse_args()

    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "bench.sqlite3").unlink(missing_ok=True)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from cells.models import Cell
    from demo.records import load_demo
    from demo.synthetic.files import write_maccor_cycling

    def fresh_study():
        """An empty database and store, so each mode parses every file (no cached Parquet)."""
        call_command("flush", interactive=False, verbosity=0)
        shutil.rmtree(VAR / "media", ignore_errors=True)
        user = get_user_model().objects.create_user("bench", password="bench-pw-123")
        load_demo(user)
        return Cell.objects.filter(active_mass_mg__isnull=False).order_by("pk").first()

    call_command("migrate", verbosity=0)
    cell = fresh_study()
    files = []
    for seed in range(args.tasks):
        path = FILES / f"maccor_1p5M_seed{seed}.txt"
        if not path.exists():
            write_maccor_cycling(path, active_mass_mg=cell.active_mass_mg, seed=seed)
        files.append(path)
    print(f"{args.tasks} files of {files[0].stat().st_size / 1e6:.0f} MB, 1.5 million rows each")
    run_mode("without recycling", 100_000, 100_000, files, cell)
    run_mode("with recycling", args.recycle_mb, 100, files, fresh_study())


if __name__ == "__main__":
    main()
