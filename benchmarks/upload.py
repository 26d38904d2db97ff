"""Upload of the 1.5-million-row cycling export (165 MB): seconds from the POST to the results,
the POST's own answer time, and the web process's peak resident memory, on the filesystem
store and on an S3 store (SeaweedFS), loopback only.

    .venv/bin/python benchmarks/upload.py [--runs 3] [--stores fs,s3] [--repo PATH]

Starts, in a temporary LIMS_VAR_DIR on SQLite and Redis (db 11 unless CELERY_BROKER_URL says
otherwise): gunicorn (1 sync worker) and one Celery worker from the code in --repo (default:
this checkout; point it at a checkout of an older commit to measure "before"), plus, for
"s3", a private SeaweedFS (scripts/start-seaweedfs.sh on ports 18333/19333/18080/18888).
Each run removes the raw object an earlier run stored (so it is a new file, not a duplicate,
for the store), POSTs the file to /api/measurements/ as multipart, streamed from disk, polls the
measurement's status until it is done. Prints the median of the runs; the peak RSS is the web
worker's VmHWM after all runs (its high-water mark since it started); "wrote" is the median of
the bytes the web worker wrote per upload (/proc/<pid>/io wchar: files, sockets, everything).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PORT = 18401
S3_PORT = 18333
BIG = ROOT / "var" / "bench" / "maccor_1p5M.txt"
ACTIVE_MASS_MG = 3.054


def big_file() -> Path:
    if not BIG.exists():
        from demo.synthetic.files import write_maccor_cycling

        BIG.parent.mkdir(parents=True, exist_ok=True)
        write_maccor_cycling(BIG, n_cycles=400, rows_per_cycle=3750, active_mass_mg=ACTIVE_MASS_MG)
    return BIG


def manage(repo: Path, env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def prepare(repo: Path, env: dict) -> tuple[str, str]:
    """Migrated database with the demo records; a staff token and a full cell's code."""
    manage(repo, env, "migrate", "--noinput")
    manage(repo, env, "load_demo", "--no-measurements")
    out = manage(
        repo,
        env,
        "shell",
        "-c",
        "from rest_framework.authtoken.models import Token; "
        "from django.contrib.auth.models import User; "
        "from core.models import Item; "
        "print(Token.objects.get_or_create(user=User.objects.get(username='demo'))[0].key, "
        "Item.objects.filter(code__startswith='CELL').order_by('-code').first().code)",
    )
    token, code = out.strip().splitlines()[-1].split()
    return token, code


def start(repo: Path, env: dict, home: Path) -> list[subprocess.Popen]:
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "lims.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", "1"]
        + ["--timeout", "600", "--log-level", "warning"],
        cwd=repo,
        env=env,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lims", "worker", "--pool=prefork"]
        + ["--concurrency=1", "--without-gossip", "--without-mingle", "--loglevel=warning"]
        + [f"--logfile={home / 'worker.log'}"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=1)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return [web, worker]
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def web_worker_pid(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return int(children[0])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def written_mb(pid: int) -> float:
    """Bytes the process has written (write(2) calls, any file), in MB."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1]) / 1e6
    return float("nan")


def upload(path: Path, token: str, code: str) -> tuple[float, float, str]:
    """(seconds to the POST's answer, seconds to the results, final status)."""
    boundary = uuid.uuid4().hex
    fields = {"item": code, "technique": "cycling", "active_mass_mg": str(ACTIVE_MASS_MG)}
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{path.name}"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = len(head) + path.stat().st_size + len(tail)

    def body():
        yield head
        with path.open("rb") as f:
            while chunk := f.read(1024 * 1024):
                yield chunk
        yield tail

    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(size),
    }
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/api/measurements/", body=body(), headers=headers)
    response = conn.getresponse()
    answer = json.loads(response.read())
    posted = time.perf_counter() - start
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {answer}")
    measurement = answer["code"]
    while True:
        conn.request(
            "GET",
            f"/api/measurements/{measurement}/status/",
            headers={"Authorization": f"Token {token}"},
        )
        state = json.loads(conn.getresponse().read())["status"]
        if state not in ("queued", "processing"):
            return posted, time.perf_counter() - start, state
        if time.perf_counter() - start > 600:
            raise RuntimeError("no result within 600 s")
        time.sleep(0.05)


def start_seaweedfs(home: Path) -> int | None:
    env = {
        **os.environ,
        "SEAWEED_DIR": str(home / "seaweedfs"),
        "SEAWEED_S3_PORT": str(S3_PORT),
        "SEAWEED_MASTER_PORT": "19333",
        "SEAWEED_VOLUME_PORT": "18080",
        "SEAWEED_FILER_PORT": "18888",
        "SEAWEED_BUCKET": "lims-bench",
        "AWS_ACCESS_KEY_ID": "lims-bench",
        "AWS_SECRET_ACCESS_KEY": "lims-bench-secret",
    }
    subprocess.run([str(ROOT / "scripts" / "start-seaweedfs.sh")], env=env, check=True)
    pid_file = home / "seaweedfs" / "weed.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def forget(store: str, home: Path, sha: str) -> None:
    """Remove the stored raw object (an earlier run's), so the upload is not a duplicate."""
    key = f"raw/{sha[:2]}/{sha}"
    if store == "fs":
        (home / "var" / "media" / key).unlink(missing_ok=True)
        return
    import boto3

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{S3_PORT}",
        region_name="us-east-1",
        aws_access_key_id="lims-bench",
        aws_secret_access_key="lims-bench-secret",
    ).delete_object(Bucket="lims-bench", Key=key)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench(repo: Path, store: str, runs: int) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"lims-bench-upload-{store}-"))
    weed = None
    env = {
        **os.environ,
        "LIMS_VAR_DIR": str(home / "var"),
        "DATABASE_URL": f"sqlite:///{home / 'lims.sqlite3'}",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/11"),
        "CELERY_QUEUE": f"bench-upload-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "benchmark-only",
        "DEBUG": "0",
        "LIMS_HTTPS": "0",  # plain http on the loopback
    }
    env.pop("LIMS_STORAGE_URL", None)
    processes: list[subprocess.Popen] = []
    try:
        if store == "s3":
            weed = start_seaweedfs(home)
            env |= {
                "LIMS_STORAGE_URL": f"s3://lims-bench?endpoint=http://127.0.0.1:{S3_PORT}",
                "AWS_ACCESS_KEY_ID": "lims-bench",
                "AWS_SECRET_ACCESS_KEY": "lims-bench-secret",
            }
        token, code = prepare(repo, env)
        processes = start(repo, env, home)
        pid = web_worker_pid(processes[0])
        posted, done, states, wrote = [], [], [], []
        sha = hashlib.sha256(big_file().read_bytes()).hexdigest()
        for _ in range(runs):
            forget(store, home, sha)  # every run stores the file anew, not a duplicate
            before = written_mb(pid)
            p, d, s = upload(big_file(), token, code)
            wrote.append(written_mb(pid) - before)
            posted.append(p)
            done.append(d)
            states.append(s)
        return {
            "post_s": statistics.median(posted),
            "results_s": statistics.median(done),
            "all_results_s": [round(d, 2) for d in done],
            "web_peak_rss_mb": peak_rss_mb(pid),
            "web_written_mb": statistics.median(wrote),
            "states": states,
        }
    finally:
        for process in processes:
            stop(process)
        if weed is not None:
            os.kill(weed, signal.SIGTERM)
            for _ in range(100):
                try:
                    os.kill(weed, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(weed, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


def s3_paths(runs: int) -> None:
    """The two ways an upload can reach S3 while it is hashed, on the same bytes: a local
    spool then one upload under the hash (what the store does), or a multipart upload under a
    temporary key as the bytes arrive, then a server-side copy to the hash's key (S3 has no
    rename) and a delete of the temporary object."""
    import boto3
    from boto3.s3.transfer import TransferConfig

    home = Path(tempfile.mkdtemp(prefix="lims-bench-s3paths-"))
    weed = None
    try:
        weed = start_seaweedfs(home)
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{S3_PORT}",
            region_name="us-east-1",
            aws_access_key_id="lims-bench",
            aws_secret_access_key="lims-bench-secret",
        )
        bucket, path, chunk = "lims-bench", big_file(), 8 * 1024 * 1024
        spool_s, multipart_s = [], []
        for i in range(runs):
            start = time.perf_counter()
            digest = hashlib.sha256()
            with path.open("rb") as src, tempfile.NamedTemporaryFile(dir=home) as spool:
                while data := src.read(1024 * 1024):
                    digest.update(data)
                    spool.write(data)
                spool.flush()
                spool.seek(0)
                s3.upload_fileobj(
                    spool, bucket, f"raw/spool-{i}-{digest.hexdigest()}", Config=TransferConfig()
                )
            spool_s.append(time.perf_counter() - start)

            start = time.perf_counter()
            digest, parts, tmp_key = hashlib.sha256(), [], f"tmp/{uuid.uuid4().hex}"
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=tmp_key)["UploadId"]
            with path.open("rb") as src:
                while data := src.read(chunk):
                    digest.update(data)
                    number = len(parts) + 1
                    answer = s3.upload_part(
                        Bucket=bucket, Key=tmp_key, PartNumber=number, UploadId=upload_id, Body=data
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            s3.complete_multipart_upload(
                Bucket=bucket, Key=tmp_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
            s3.copy_object(
                Bucket=bucket,
                Key=f"raw/multipart-{i}-{digest.hexdigest()}",
                CopySource={"Bucket": bucket, "Key": tmp_key},
            )
            s3.delete_object(Bucket=bucket, Key=tmp_key)
            multipart_s.append(time.perf_counter() - start)
        print(
            f"S3 paths, {path.stat().st_size / 1e6:.0f} MB: local spool + upload median "
            f"{statistics.median(spool_s):.2f} s; multipart as it arrives + copy + delete "
            f"median {statistics.median(multipart_s):.2f} s"
        )
    finally:
        if weed is not None:
            os.kill(weed, signal.SIGTERM)
            time.sleep(2)
            with contextlib.suppress(ProcessLookupError):
                os.kill(weed, signal.SIGKILL)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--stores", default="fs,s3")
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument(
        "--s3-paths", action="store_true", help="compare spool+upload with multipart+copy"
    )
    args = parser.parse_args()
    if args.s3_paths:
        s3_paths(args.runs)
        return
    size_mb = big_file().stat().st_size / 1e6
    print(f"file: {size_mb:.0f} MB; code: {args.repo}; {args.runs} runs each")
    for store in args.stores.split(","):
        r = bench(args.repo.resolve(), store, args.runs)
        print(
            f"{store:3}: POST answered median {r['post_s']:.2f} s, results median "
            f"{r['results_s']:.2f} s (runs {r['all_results_s']}), web peak RSS "
            f"{r['web_peak_rss_mb']:.0f} MB, web process wrote {r['web_written_mb']:.0f} MB "
            f"per upload, states {sorted(set(r['states']))}"
        )


if __name__ == "__main__":
    main()
