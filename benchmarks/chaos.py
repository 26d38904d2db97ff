"""Chaos benchmark: uploads measurements while worker processes are killed and Redis restarts.

Issue 11's proof that no job is lost and none is done twice. Everything runs on loopback as
separate processes of a throwaway deployment, and the whole run is bounded (`--timeout`):

- a fresh PostgreSQL database (`--database-url`, default `lims_chaos` on 127.0.0.1:5432),
  migrated, with the demo records (no demo measurements), a staff user and an API token;
- Redis without persistence (`redis-server --save "" --appendonly no`, `--redis-port`);
- gunicorn (2 workers, `--web-port`), two Celery workers (prefork, concurrency 1 each, own
  working directory and LIMS_VAR_DIR, one MEDIA_ROOT shared by all; `--storage-url` is passed to
  every process as LIMS_STORAGE_URL) and Celery beat (its own schedule file).

Through the REST API (lims.client) it makes pellets, electrode disks and cells, then uploads
`--uploads` measurements from `--clients` threads, spread over the time the faults take
(`--upload-rate` to choose), in this mix: half EIS (impedance.py's real BioLogic
`exampleDataBioLogic.mpt` on pellets, at one of five temperatures, so temperature series run
too), a quarter cycling (cellpy's real `maccor_three.txt` on full cells), a fifth Li stripping
on symmetric cells (no real stripping export is in tests/data/instrument-files, so a 40-hour
trace is written once by demo.synthetic) and a twentieth cellpy's real `maccor_two.txt`, whose
cut-short last line the parser refuses (the failure path: it must end "failed", once). The
same bytes go up many times, as when one export is attached to several measurements: the store
keeps them once under their SHA-256, and two workers may parse one raw file at the same time.

Meanwhile it injects faults every `--fault-interval` seconds (with jitter): `--worker-kills`
SIGKILLs, each aimed at a worker whose pool child is using the CPU (running a task) if one is
within 3 s; two in three kill that pool child (the main process forks a new one), one in three
the whole worker (main process and pool, as a machine dying; started again `--restart-delay` s
later); and `--redis-restarts` Redis restarts (killed, down for
`--redis-down` s, started empty). An upload that fails (5xx or no answer) is retried by the
client, as a real script would, and counted; a failure while Redis is down (or within 2 s of it
coming back) is counted apart. Then it waits (at most `--settle` s after the last fault) until
every measurement and temperature series is in a final state and reads the database.

    .venv/bin/python benchmarks/chaos.py                 # 200 uploads, 25 kills, 2 restarts
    .venv/bin/python benchmarks/chaos.py --quick         # 20 uploads, 3 kills, 1 restart (~2 min)
    .venv/bin/python benchmarks/chaos.py --uploads 100 --worker-kills 10 --redis-restarts 1
    .venv/bin/python benchmarks/chaos.py --storage-url 's3://bucket?endpoint=...'

The deployment runs with LIMS_TASK_TIME_LIMIT_S=30 (`--task-time-limit`; these tasks take
under 2 s), LIMS_RECONCILE_EVERY_S=10 (`--reconcile-every`) and LIMS_JOB_LEASE_S left to its
default, the time limit + 90 s (`--job-lease`): a message a killed whole worker held is counted
lost by the reconciler about two minutes after the kill.

Logs of every process are under var/bench/chaos/<time>/ (printed at the end). What it prints:

- pool-child kills mid-task: kills that hit a running task (the worker logged WorkerLostError);
  a whole-worker kill strands the message it held whether or not it was running it.
- task errors, unexpected: tasks that raised an exception the service does not turn into a
  failed measurement (`raised unexpected` in the worker logs), by type.
- uploaded: uploads the server acknowledged (201 with a measurement code).
- upload retries: requests that failed and were sent again: while Redis was down / otherwise
  (by HTTP status or error); upload gave up: uploads still failing after `--upload-retry-s`.
- uploads refused: 4xx answers (not retried; a defect of this script or of the API).
- orphan rows: measurements in the database that no acknowledged upload named (a request that
  answered an error after its row was committed; the client's retry made a second one).
- done / done with warnings / needs input / failed (reasons grouped): measurements in each final
  state (every row, orphans included).
- stuck: measurements still queued or processing when the wait ended; series stuck likewise for
  temperature series.
- lost: acknowledged uploads whose measurement is missing or not final at the end (the job was
  lost: the lab was told it is queued). Stuck orphan rows are counted under stuck, not lost.
- measurements run again: rows whose run number is above 1 (a re-enqueue by a reconciler
  numbers a new run; a message delivered again after a kill keeps its run).
- duplicate result rows: (measurement, result kind) pairs stored more than once, and
  (measurement, cycle) per-cycle rows stored more than once. The database's unique constraints
  (result_once_per_kind, cycle_row_once) forbid both today; the count checks they hold.
- time to recover: from the end of the last fault (the last killed worker restarted, or Redis
  back) until every measurement and series was final; "not recovered" if that never happened.
- total time: from the first upload to the end of the wait.

Exit status: 0 when lost, stuck (measurements and series), duplicates and uploads refused or
given up are all 0; 1 otherwise; 2 when the deployment could not be set up; 3 when `--timeout`
cut the run.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims.client import ApiError, Client  # noqa: E402

FILES = ROOT / "tests" / "data" / "instrument-files"
EIS_FILE = FILES / "impedance.py" / "exampleDataBioLogic.mpt"
CYCLING_FILE = FILES / "cellpy" / "maccor_three.txt"
# One upload in twenty is a real file the parser refuses (its last line is cut short): the
# failure path under faults, ending "failed" once with its reason, never stuck or retried.
CUT_SHORT_FILE = FILES / "cellpy" / "maccor_two.txt"
EIS_TEMPERATURES_C = (25, 40, 60, 80, 100)
FINAL = ("done", "done_with_warnings", "needs_input", "failed")
PENDING = ("queued", "processing")
CELERY = [sys.executable, "-m", "celery", "-A", "lims"]


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- the deployment -----------------------------------------------------------------------------


class Deployment:
    """Every process of the throwaway deployment, each in its own session so a kill of one
    (or of a whole worker with its pool) touches nothing else; `stop()` ends all of them."""

    def __init__(self, args: argparse.Namespace, run_dir: Path):
        self.args = args
        self.run_dir = run_dir
        self.redis_url = f"redis://127.0.0.1:{args.redis_port}/0"
        self.base_url = f"http://127.0.0.1:{args.web_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.media = run_dir / "media"
        self.media.mkdir(parents=True)

    def env(self, name: str) -> dict[str, str]:
        var_dir = self.run_dir / name
        var_dir.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "lims.settings",
            "DATABASE_URL": self.args.database_url,
            "CELERY_BROKER_URL": self.redis_url,
            "CELERY_QUEUE": "lims",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "SECRET_KEY": "chaos-benchmark-only",
            "DEBUG": "0",
            "LIMS_HTTPS": "0",  # plain http on the loopback
            "LIMS_VAR_DIR": str(var_dir),
            "MEDIA_ROOT": str(self.media),
        }
        if self.args.storage_url:
            env["LIMS_STORAGE_URL"] = self.args.storage_url
        # Job timings (settings a version without the reconciler ignores): the tasks here take
        # under 2 s, so a 30 s limit is generous and a lost message's lease (the limit + 90 s
        # unless --job-lease) ends within minutes of the fault.
        env["LIMS_TASK_TIME_LIMIT_S"] = str(self.args.task_time_limit)
        env["LIMS_RECONCILE_EVERY_S"] = str(self.args.reconcile_every)
        if self.args.job_lease:
            env["LIMS_JOB_LEASE_S"] = str(self.args.job_lease)
        return env

    def _spawn(self, name: str, command: list[str], cwd: Path, env: dict | None = None):
        out = open(self.run_dir / f"{name}.out", "ab")  # noqa: SIM115 (the process keeps it)
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        with self.lock:
            self.procs[name] = proc
        return proc

    def manage(self, *args: str) -> str:
        """Run a management command as one of the deployment's processes, so that `--timeout`
        stops it too; its output (also kept in manage.out)."""
        out = self.run_dir / "manage.out"
        start = out.stat().st_size if out.exists() else 0
        proc = self._spawn(
            "manage",
            [sys.executable, str(ROOT / "manage.py"), *args],
            self.run_dir / "web",
            self.env("web"),
        )
        try:
            code = proc.wait(300)
        except subprocess.TimeoutExpired:
            code = None
        self.kill("manage")
        text = out.read_bytes()[start:].decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({code}):\n{text[-3000:]}")
        return text

    # Redis -------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        self._spawn(
            "redis",
            [
                self.args.redis_server,
                "--port",
                str(self.args.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
            ],
            cwd=self.run_dir,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.redis_ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.args.redis_port}")

    def redis_ping(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.args.redis_port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self, name: str) -> None:
        """SIGKILL a process and everything in its session, and reap it."""
        with self.lock:
            proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)

    # Database ----------------------------------------------------------------------------------

    def create_database(self) -> None:
        import psycopg

        url = self.args.database_url
        server, name = url.rsplit("/", 1)
        with psycopg.connect(server + "/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def token(self) -> str:
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("load_demo", "--no-measurements", "-v", "0")
        out = self.manage(
            "shell",
            "-c",
            "from core.api.tokens import token_rotate; "
            "from django.contrib.auth.models import User; "
            "print('TOKEN', token_rotate(User.objects.get(username='demo')).key)",
        )
        return re.search(r"TOKEN (\S+)", out).group(1)

    # Web, workers, beat ------------------------------------------------------------------------

    def start_web(self) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "lims.wsgi",
                "-b",
                f"127.0.0.1:{self.args.web_port}",
                "-w",
                "2",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=self.run_dir / "web",
            env=self.env("web"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer on port {self.args.web_port}")

    def start_worker(self, name: str) -> None:
        self._spawn(
            name,
            # As in production: prefork, one pool child each (a kill takes one task).
            [*CELERY, "worker", "--pool=prefork", "--concurrency=1", "-Q", "lims"]
            + ["-n", f"{name}@chaos", "--loglevel=info"]
            + [f"--logfile={self.run_dir / name}.log"],
            cwd=self.run_dir / name,
            env=self.env(name),
        )

    def start_beat(self) -> None:
        beat_dir = self.run_dir / "beat"
        self._spawn(
            "beat",
            [
                *CELERY,
                "beat",
                "-s",
                str(beat_dir / "celerybeat-schedule"),
                "--loglevel=info",
                f"--logfile={beat_dir}.log",
            ],
            cwd=beat_dir,
            env=self.env("beat"),
        )

    def worker_pid(self, name: str) -> int | None:
        with self.lock:
            proc = self.procs.get(name)
        return None if proc is None or proc.poll() is not None else proc.pid

    def stop(self) -> None:
        with self.lock:
            names = list(self.procs)
        for name in names:
            with self.lock:
                proc = self.procs.get(name)
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name in names:
            with self.lock:
                proc = self.procs.get(name)
            if proc is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            self.kill(name)  # SIGKILL the session: a pool child that outlived its parent too


# -- records made through the API --------------------------------------------------------------


def make_items(client: Client, count: int) -> dict[str, list[str]]:
    """`count` pellets for EIS, full cells for cycling and symmetric cells for stripping."""
    lots = client.reagent_lots()
    li = lots.loc[lots["chemical"].astype(str).str.contains("Lithium foil"), "code"].iloc[0]
    pellets = client.create("pellet-sets", batch="LAGP-0001", count=3 * count)["items"]
    disks = client.create(
        "electrode-disks", coating="CAT-0001", count=count, active_loading_mg_cm2=3
    )["items"]
    fields = {"format": "coin", "active_area_cm2": 1.13, "test_temperature_c": 25}
    full, symmetric = [], []
    for i in range(count):
        full.append(
            client.create(
                "cells",
                **fields,
                layers=[
                    {"side": "negative", "item": li},
                    {"side": "electrolyte", "item": pellets[count + i]},
                    {"side": "positive", "item": disks[i]},
                ],
            )["code"]
        )
        symmetric.append(
            client.create(
                "cells",
                **fields,
                layers=[
                    {"side": "negative", "item": li},
                    {"side": "electrolyte", "item": pellets[2 * count + i]},
                    {"side": "positive", "item": li},
                ],
            )["code"]
        )
    return {"eis": pellets[:count], "cycling": full, "stripping": symmetric}


def stripping_file(folder: Path) -> Path:
    from demo.synthetic import exports
    from demo.synthetic import spectra as syn

    trace = syn.stripping_trace(
        syn.PAPER_STRIPPING_PROFILES["Li|ILE/LAGP/ILE|Li"], duration_h=40, points_per_hour=20
    )
    return exports.write_mpt_galvanostatic(folder / "stripping.mpt", trace)


@dataclass
class Upload:
    item: str
    technique: str
    path: Path
    fields: dict


def plan(n: int, items: dict[str, list[str]], strip_path: Path, rng: random.Random):
    """Half EIS, a quarter cycling, a fifth stripping, a twentieth a cut-short file; shuffled."""
    uploads = []
    for i in range(n):
        share = i % 20
        if share == 19:
            uploads.append(
                Upload(items["cycling"][i % len(items["cycling"])], "cycling", CUT_SHORT_FILE, {})
            )
        elif share < 10:
            uploads.append(
                Upload(
                    items["eis"][i % len(items["eis"])],
                    "eis",
                    EIS_FILE,
                    {
                        "temperature_c": EIS_TEMPERATURES_C[(i // 20) % len(EIS_TEMPERATURES_C)],
                        "area_cm2": 0.5,
                        "thickness_um": 600,
                    },
                )
            )
        elif share < 15:
            uploads.append(
                Upload(items["cycling"][i % len(items["cycling"])], "cycling", CYCLING_FILE, {})
            )
        else:
            uploads.append(
                Upload(items["stripping"][i % len(items["stripping"])], "stripping", strip_path, {})
            )
    rng.shuffle(uploads)
    return uploads


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: list[str] = field(default_factory=list)
    retries_redis_down: int = 0
    retries_other: collections.Counter = field(default_factory=collections.Counter)
    gave_up: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    first_upload: float | None = None
    last_upload: float | None = None


class Faults:
    """The fault thread's state: Redis down windows and when the last fault ended."""

    def __init__(self):
        self.redis_down_since: float | None = None
        self.redis_back_at: float = -1e9
        self.last_fault_end: float | None = None
        self.done = threading.Event()
        self.events: list[str] = []

    def redis_unavailable(self) -> bool:
        # A request sent just before Redis went away, or answered just after it came back
        # (a web worker reconnecting), is counted with the outage too.
        return self.redis_down_since is not None or time.monotonic() - self.redis_back_at < 2


def fault_window(args) -> float:
    """How long the faults take, about: uploads are spread over it, as a lab's instruments
    upload over the day, so that faults hit work in progress rather than an idle deployment."""
    whole_kills = args.worker_kills // 3
    return (
        args.fault_start
        + (args.worker_kills + args.redis_restarts) * args.fault_interval
        + args.redis_restarts * args.redis_down
        + whole_kills * args.restart_delay
    )


def upload_all(client: Client, uploads: list[Upload], tally: Tally, faults: Faults, args) -> None:
    queue = iter(enumerate(uploads))
    queue_lock = threading.Lock()
    rate = args.upload_rate or len(uploads) / max(1.0, fault_window(args))
    start = time.monotonic()

    def worker():
        while True:
            with queue_lock:
                nxt = next(queue, None)
            if nxt is None:
                return
            index, up = nxt
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            deadline = time.monotonic() + args.upload_retry_s
            delay = 0.2
            while True:
                reason = None
                try:
                    created = client.upload(
                        up.item, up.path, technique=up.technique, wait=False, **up.fields
                    )
                except ApiError as exc:
                    if exc.status < 500:  # refused: sending the same again cannot help
                        with tally.lock:
                            tally.refused.append(f"{up.technique} on {up.item}: {exc}"[:300])
                        break
                    reason = f"HTTP {exc.status}"
                except (urllib.error.URLError, OSError) as exc:
                    reason = type(getattr(exc, "reason", exc)).__name__
                if reason is None:
                    with tally.lock:
                        tally.codes.append(created["code"])
                        now = time.monotonic()
                        tally.first_upload = tally.first_upload or now
                        tally.last_upload = now
                    break
                with tally.lock:
                    if faults.redis_unavailable():
                        tally.retries_redis_down += 1
                    else:
                        tally.retries_other[reason] += 1
                if time.monotonic() > deadline:
                    with tally.lock:
                        tally.gave_up.append(f"{up.technique} on {up.item}: {reason}")
                    break
                time.sleep(delay)
                delay = min(delay * 2, 3.0)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])  # utime + stime


def busy_worker(dep: Deployment, rng: random.Random, wait: float = 3.0):
    """A worker and its pool child, preferring one whose child is using the CPU (running a
    task), looked for during `wait` s: a kill should land in the middle of work."""
    children = {}
    for name in ("worker1", "worker2"):
        pid = dep.worker_pid(name)
        if pid is None:
            continue
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        for child in map(int, out.split()):
            children[child] = name
    if not children:
        return None, None
    deadline = time.monotonic() + wait
    before = {pid: cpu_ticks(pid) for pid in children}
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = {pid: cpu_ticks(pid) for pid in children}
        busy = [pid for pid in children if now[pid] > before[pid] >= 0]
        if busy:
            child = rng.choice(busy)
            return children[child], child
        before = now
    child = rng.choice(sorted(children))
    return children[child], child


def inject_faults(dep: Deployment, faults: Faults, args, rng: random.Random) -> None:
    kinds = ["kill"] * args.worker_kills
    # Redis restarts spread evenly among the kills (a third and two thirds through, for two).
    for i in range(args.redis_restarts):
        kinds.insert(round((i + 1) * len(kinds) / (args.redis_restarts + 1)) + i, "redis")
    kill_number = 0
    time.sleep(args.fault_start)
    for kind in kinds:
        if faults.done.is_set():
            return
        time.sleep(args.fault_interval * rng.uniform(0.5, 1.5))
        if kind == "redis":
            faults.redis_down_since = time.monotonic()
            dep.kill("redis")
            faults.events.append("redis stopped")
            log(f"fault: Redis killed, down for {args.redis_down} s (started again empty)")
            time.sleep(args.redis_down)
            dep.start_redis()
            faults.redis_down_since = None
            faults.redis_back_at = time.monotonic()
            faults.last_fault_end = time.monotonic()
            continue
        whole = kill_number % 3 == 2  # one kill in three takes the whole worker
        kill_number += 1
        for _ in range(10):  # both workers may be starting again after a whole kill
            worker, child = busy_worker(dep, rng)
            if worker is not None:
                break
            time.sleep(1)
        else:
            continue
        if whole:
            pid = dep.worker_pid(worker)
            dep.kill(worker)
            log(f"fault: {worker} killed whole (main {pid} and its pool)")
            time.sleep(args.restart_delay)
            dep.start_worker(worker)
            faults.events.append(f"{worker} killed whole")
        else:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                continue
            log(f"fault: {worker} pool child {child} killed")
            faults.events.append(f"{worker} child killed")
        faults.last_fault_end = time.monotonic()


def db_state(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT code, status, status_detail, run FROM measurements_measurement"
        ).fetchall()
        series = conn.execute("SELECT status FROM measurements_temperatureseries").fetchall()
        dup_results = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM measurements_result "
            "WHERE measurement_id IS NOT NULL GROUP BY measurement_id, kind "
            "HAVING count(*) > 1) d"
        ).fetchone()[0]
        dup_cycles = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM measurements_cyclerow "
            "GROUP BY measurement_id, cycle HAVING count(*) > 1) d"
        ).fetchone()[0]
    return {
        "measurements": {code: (status, detail) for code, status, detail, _ in rows},
        "rerun": sum(run > 1 for *_, run in rows),
        "series": [s for (s,) in series],
        "dup_results": dup_results,
        "dup_cycles": dup_cycles,
    }


def all_final(state: dict) -> bool:
    return all(s in FINAL for s, _ in state["measurements"].values()) and all(
        s in FINAL for s in state["series"]
    )


def reason_group(detail: str) -> str:
    """A failure reason without the numbers and codes that differ between measurements."""
    text = re.sub(r"\b[A-Z]+-\d+\b", "<code>", detail.splitlines()[0] if detail else "(none)")
    return re.sub(r"\d+(\.\d+)?", "N", text)[:160]


def report(args, tally: Tally, faults: Faults, state: dict, t_final, t_end, run_dir) -> int:
    measurements = state["measurements"]
    statuses = collections.Counter(s for s, _ in measurements.values())
    acknowledged = set(tally.codes)
    # An acknowledged upload whose job never finished is lost work: the lab was told "queued".
    lost = sorted(
        code
        for code in acknowledged
        if code not in measurements or measurements[code][0] not in FINAL
    )
    orphans = set(measurements) - acknowledged
    orphans_stuck = sum(measurements[code][0] in PENDING for code in orphans)
    stuck = statuses["queued"] + statuses["processing"]
    series = collections.Counter(state["series"])
    series_stuck = series["queued"] + series["processing"]
    failures = collections.Counter(
        reason_group(detail) for s, detail in measurements.values() if s == "failed"
    )
    start = tally.first_upload or t_end
    print()
    print(
        f"chaos: {args.uploads} uploads from {args.clients} client threads, "
        f"{args.worker_kills} worker kills, {args.redis_restarts} Redis restarts "
        f"({len(faults.events)} faults injected: "
        f"{sum('child' in e for e in faults.events)} pool children, "
        f"{sum('whole' in e for e in faults.events)} whole workers, "
        f"{sum('redis' in e for e in faults.events)} Redis)"
    )
    # A pool child killed in the middle of a task is logged by its worker's main process.
    hits = sum(
        (run_dir / f"{w}.log")
        .read_text(errors="replace")
        .count("Task handler raised error: WorkerLostError")
        for w in ("worker1", "worker2")
        if (run_dir / f"{w}.log").exists()
    )
    lease = args.job_lease or f"{args.task_time_limit} + 90 (default)"
    print(
        f"  settings: LIMS_TASK_TIME_LIMIT_S={args.task_time_limit}, "
        f"LIMS_RECONCILE_EVERY_S={args.reconcile_every}, LIMS_JOB_LEASE_S={lease}"
    )
    print(f"  pool-child kills mid-task    {hits} (WorkerLostError in the worker logs)")
    # A task that raised what the service does not handle: its measurement is left as it was.
    unexpected = collections.Counter(
        f"{match.group(2)} in {match.group(1).rsplit('.', 1)[-1]}"
        for w in ("worker1", "worker2")
        if (run_dir / f"{w}.log").exists()
        for match in re.finditer(
            r"Task (\S+?)\[[^\]]*\] raised unexpected: (\w+)",
            (run_dir / f"{w}.log").read_text(errors="replace"),
        )
    )
    print(f"  task errors, unexpected      {dict(unexpected) or 0}")
    print(f"  uploaded (acknowledged)      {len(acknowledged)}")
    print(f"  upload retries, Redis down   {tally.retries_redis_down}")
    other = ", ".join(f"{k}: {v}" for k, v in tally.retries_other.items()) or "0"
    print(f"  upload retries, otherwise    {other}")
    print(f"  uploads given up             {len(tally.gave_up)}")
    print(f"  uploads refused (4xx)        {len(tally.refused)}")
    for text in tally.refused[:5]:
        print(f"      {text}")
    print(f"  orphan rows (error answered) {len(orphans)}, of them stuck {orphans_stuck}")
    print(f"  measurements in database     {len(measurements)}")
    print(f"  done                         {statuses['done']}")
    print(f"  done with warnings           {statuses['done_with_warnings']}")
    print(f"  needs input                  {statuses['needs_input']}")
    print(f"  failed                       {statuses['failed']}")
    for reason, n in failures.most_common():
        print(f"      {n:4d} × {reason}")
    print(
        f"  stuck                        {stuck} "
        f"(queued {statuses['queued']}, processing {statuses['processing']})"
    )
    print(
        f"  temperature series           {len(state['series'])}, stuck {series_stuck} "
        f"({dict(series)})"
    )
    print(f"  lost                         {len(lost)}" + (f" {lost[:8]}" if lost else ""))
    print(f"  measurements run again       {state['rerun']} (run number above 1)")
    print(f"  duplicate result rows        {state['dup_results']}")
    print(f"  duplicate cycle rows         {state['dup_cycles']}")
    if faults.last_fault_end is None:
        print("  time to recover              (no fault injected)")
    elif t_final is None:
        print(
            f"  time to recover              not recovered: {stuck} measurements and "
            f"{series_stuck} series still pending {t_end - faults.last_fault_end:.0f} s after "
            "the last fault"
        )
    else:
        recover = t_final - faults.last_fault_end
        print(
            f"  time to recover              {recover:.1f} s"
            if recover > 0
            else "  time to recover              0 s (all final before the last fault ended)"
        )
    print(f"  total time                   {t_end - start:.1f} s")
    bad = (
        len(lost)
        + len(tally.refused)
        + len(tally.gave_up)
        + stuck
        + series_stuck
        + state["dup_results"]
        + state["dup_cycles"]
    )
    return 0 if bad == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--worker-kills", type=int, default=25)
    parser.add_argument("--redis-restarts", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 uploads, 3 kills, 1 restart")
    parser.add_argument("--clients", type=int, default=4, help="client threads uploading")
    parser.add_argument("--items", type=int, default=4, help="pellets and cells of each kind")
    parser.add_argument("--fault-start", type=float, default=2.0, help="s after uploads begin")
    parser.add_argument("--fault-interval", type=float, default=3.0, help="mean s between faults")
    parser.add_argument("--restart-delay", type=float, default=2.0, help="whole worker down, s")
    parser.add_argument("--redis-down", type=float, default=5.0, help="Redis down, s")
    parser.add_argument(
        "--upload-rate",
        type=float,
        default=0.0,
        help="uploads/s; 0 (default): spread over the time the faults take",
    )
    parser.add_argument("--upload-retry-s", type=float, default=120.0)
    parser.add_argument(
        "--settle", type=float, help="s to wait after the last fault (300; --quick: 60)"
    )
    parser.add_argument("--timeout", type=float, help="hard limit of the run, s (900; quick: 300)")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/lims_chaos")
    parser.add_argument("--redis-port", type=int, default=16400)
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--web-port", type=int, default=18200)
    parser.add_argument("--storage-url", default="", help="passed on as LIMS_STORAGE_URL")
    parser.add_argument("--task-time-limit", type=int, default=30, help="LIMS_TASK_TIME_LIMIT_S")
    parser.add_argument("--reconcile-every", type=int, default=10, help="LIMS_RECONCILE_EVERY_S")
    parser.add_argument("--job-lease", type=int, default=0, help="LIMS_JOB_LEASE_S (0: default)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.quick:
        args.uploads, args.worker_kills, args.redis_restarts = 20, 3, 1
    # Asked for explicitly, a wait or a limit holds in --quick too.
    args.settle = args.settle if args.settle is not None else (60.0 if args.quick else 300.0)
    args.timeout = args.timeout if args.timeout is not None else (300.0 if args.quick else 900.0)

    rng = random.Random(args.seed)
    run_dir = ROOT / "var" / "bench" / "chaos" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    dep = Deployment(args, run_dir)

    def cut(*_):
        log(f"--timeout {args.timeout:.0f} s reached: stopping every process")
        dep.stop()
        os._exit(3)

    timer = threading.Timer(args.timeout, cut)
    timer.daemon = True
    timer.start()
    signal.signal(signal.SIGTERM, lambda *_: cut())
    try:
        try:
            log(f"deployment in {run_dir}")
            dep.create_database()
            dep.start_redis()
            token = dep.token()
            dep.start_web()
            for name in ("worker1", "worker2"):
                dep.start_worker(name)
            dep.start_beat()
            client = Client(dep.base_url, token, timeout=30)
            items = make_items(client, args.items)
            uploads = plan(args.uploads, items, stripping_file(run_dir), rng)
        except Exception as exc:  # noqa: BLE001 (any set-up failure ends the run the same way)
            log(f"set-up failed: {exc}")
            return 2
        log(f"uploading {len(uploads)} measurements onto {sum(map(len, items.values()))} items")
        tally, faults = Tally(), Faults()
        fault_thread = threading.Thread(
            target=inject_faults, args=(dep, faults, args, rng), daemon=True
        )
        fault_thread.start()
        upload_all(client, uploads, tally, faults, args)
        log(
            f"uploads finished: {len(tally.codes)} acknowledged; "
            "waiting for the faults to end and every job to finish"
        )
        fault_thread.join()
        faults.done.set()
        last = faults.last_fault_end or time.monotonic()
        t_final = None
        next_note = time.monotonic() + 15
        while True:
            state = db_state(args.database_url)
            now = time.monotonic()
            if all_final(state):
                t_final = now
                break
            if now - last > args.settle:
                break
            if now > next_note:
                pending = collections.Counter(
                    s for s, _ in state["measurements"].values() if s in PENDING
                )
                log(f"waiting: {dict(pending)} measurements pending")
                next_note = now + 15
            time.sleep(1)
        t_end = time.monotonic()
        code = report(args, tally, faults, state, t_final, t_end, run_dir)
        print(f"  logs                         {run_dir}")
        return code
    finally:
        timer.cancel()
        dep.stop()


if __name__ == "__main__":
    sys.exit(main())
