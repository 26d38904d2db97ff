"""One settings module, driven by environment variables.

Every variable has a default that runs the whole system on a laptop (SQLite, a Celery broker on
the local filesystem); production and CI set DATABASE_URL and CELERY_BROKER_URL. A value that
cannot be understood stops start-up with a message naming the variable, rather than silently
falling back to a default.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import dj_database_url
import plotly
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LIMS_VAR_DIR", BASE_DIR / "var"))

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def database_from_env() -> dict:
    url = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'lims.sqlite3'}")
    scheme = urlparse(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported (use postgresql:// or sqlite:///)"
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except Exception as exc:  # dj_database_url raises several types for a malformed URL
        raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
    if config["ENGINE"].endswith("sqlite3"):
        # The embedded default: writes wait for each other instead of failing with
        # "database is locked" when the web server and the worker write at once.
        config["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
        config["CONN_MAX_AGE"] = 0
        # A file, not memory, so a worker process in the integration tests sees the test data.
        config["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    return config


def broker_from_env() -> tuple[str, dict]:
    # A host name, though the filesystem transport uses none: without one kombu logs "No
    # hostname was supplied" every time a task is sent.
    url = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost/")
    scheme = urlparse(url).scheme
    if scheme == "filesystem":
        # kombu's filesystem transport: a broker that needs no server (embedded default).
        queue_dir = VAR_DIR / "broker"
        for sub in ("out", "processed", "control"):
            (queue_dir / sub).mkdir(parents=True, exist_ok=True)
        return url, {
            "data_folder_in": str(queue_dir / "out"),
            "data_folder_out": str(queue_dir / "out"),
            "processed_folder": str(queue_dir / "processed"),
            "control_folder": str(queue_dir / "control"),
            "store_processed": False,
        }
    if scheme in {"redis", "rediss", "memory"}:
        # visibility_timeout is set below from the task time limit; a dead broker is noticed
        # within 2 s when connecting instead of the OS's minutes.
        return url, {"socket_connect_timeout": 2}
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL scheme {scheme!r} is not supported (use redis:// or filesystem://)"
    )


def storage_from_env() -> dict:
    """The raw-file store (`STORAGES["lims"]`) from LIMS_STORAGE_URL: unset or
    `file:///path` is the local filesystem (under MEDIA_ROOT when no path is given);
    `s3://bucket[/prefix]?endpoint=http://host:port&region=name` is an S3-compatible object
    store through django-storages, signed with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    url = os.environ.get("LIMS_STORAGE_URL", "")
    fs = "django.core.files.storage.FileSystemStorage"
    if not url:
        return {"BACKEND": fs}  # follows MEDIA_ROOT, also when a test changes it
    parsed = urlparse(url)
    if parsed.scheme == "file" and not parsed.netloc and parsed.path.startswith("/"):
        return {"BACKEND": fs, "OPTIONS": {"location": unquote(parsed.path)}}
    if parsed.scheme == "s3" and parsed.netloc:
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        unknown = set(query) - {"endpoint", "region"}
        endpoint = query.get("endpoint")
        if unknown or (endpoint and urlparse(endpoint).scheme not in {"http", "https"}):
            raise ImproperlyConfigured(
                f"LIMS_STORAGE_URL={url!r}: takes only ?endpoint=http(s)://host:port and "
                "&region=name"
            )
        from botocore.config import Config

        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": parsed.netloc,
                "location": parsed.path.strip("/"),
                "endpoint_url": endpoint,
                "region_name": query.get("region", "us-east-1"),
                "addressing_style": "path",  # SeaweedFS, MinIO and the like on an IP address
                "signature_version": "s3v4",
                "file_overwrite": True,  # keys are content hashes: the store decides, not S3
                "max_memory_size": 8 * 1024 * 1024,
                "client_config": Config(
                    connect_timeout=5, read_timeout=60, retries={"max_attempts": 3}
                ),
            },
        }
    raise ImproperlyConfigured(
        f"LIMS_STORAGE_URL={url!r} is not understood (use file:///absolute/path or "
        "s3://bucket?endpoint=http://host:port&region=name)"
    )


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# HTTPS: one switch, on by default in production (DEBUG off) and off under `make run` (DEBUG on,
# plain http on 127.0.0.1). On, the site redirects http to https (except the health probes,
# which a load balancer or kubelet asks over plain http), sends HSTS and marks its cookies
# Secure, so `manage.py check --deploy` has nothing to report. A deployment that really serves
# plain http (a closed test network, CI's gunicorn on 127.0.0.1) says so with LIMS_HTTPS=0.
LIMS_HTTPS = env_bool("LIMS_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", LIMS_HTTPS)
# Patterns are matched against the path without its leading slash.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# HSTS: a year, subdomains and preload by default once HTTPS is on (Django sends the header on
# https responses only). A site that shares its domain with plain-http hosts lowers these.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if LIMS_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", LIMS_HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", LIMS_HTTPS)


def proxy_ssl_header_from_env() -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https": the header a TLS-terminating proxy
    sets (and strips from what clients send) to say the request came over https."""
    raw = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
    if not raw:
        return None
    name, sep, value = raw.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={raw!r} is not 'Header-Name: value' "
            "(e.g. 'X-Forwarded-Proto: https')"
        )
    return "HTTP_" + name.strip().upper().replace("-", "_"), value.strip()


SECURE_PROXY_SSL_HEADER = proxy_ssl_header_from_env()
SESSION_COOKIE_SECURE = LIMS_HTTPS
CSRF_COOKIE_SECURE = LIMS_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Django's defaults, named here because the README promises them: no MIME sniffing, pages not
# framed, the Referer only within the site.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy of every HTML page (core.csp): scripts only from the site itself or
# with the response's nonce; nothing from other hosts (the network is closed: Plotly, htmx,
# Swagger UI and Redoc are served locally). Styles may be inline: Plotly and Redoc write
# <style> elements and style attributes at run time, and an inline style cannot run code.
# Images may be data: URLs (Plotly's and Swagger UI's icons); Redoc runs its search in a
# worker made from a blob: URL.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'", "blob:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc files served locally (no CDN)
    # Layers, bottom up (docs/architecture.md): the core, the lab's apps, then the demo
    # (composition, with the project package `lims`: settings, URLs, API router, Celery).
    "core",
    "synthesis",
    "cells",
    "measurements",
    "demo",
    "lims.apps.OperationsConfig",  # manage.py backup / restore (composition layer, no models)
]

# Apps whose records the audit log follows (core.audit); a model opts out with AUDITED = False.
# The core's label is "lims" (core/apps.py). Not authtoken: a token row is its secret key.
AUDITED_APPS = {"lims", "synthesis", "cells", "measurements", "auth"}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.UploadSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session and user (its 400 page has the site's navigation), before any view
    # or the CSRF check reads the body.
    "core.middleware.RefuseUnreadableInputMiddleware",
    "core.middleware.LoginRequiredMiddleware",  # Django's, minus the API (token auth, 401 JSON)
    "core.audit.CurrentUserMiddleware",
    # Inside the user's context: a refused write to a signed record is audited under them.
    "core.middleware.RecordLockedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "lims.urls"
WSGI_APPLICATION = "lims.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.csp.nonce",
                "core.permissions.context",
            ],
        },
    },
]

DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
# Plotly.js comes from the plotly Python package: no CDN, the network is closed.
STATICFILES_DIRS.append(("plotly", str(Path(plotly.__file__).parent / "package_data")))
WHITENOISE_USE_FINDERS = True  # serve static files without a collectstatic step in development

# Raw instrument files: the largest upload accepted (checked before the body is read); files
# over FILE_UPLOAD_MAX_MEMORY_SIZE stream to disk instead of memory.
LIMS_MAX_UPLOAD_BYTES = env_int("LIMS_MAX_UPLOAD_MB", 512) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Rows one JSON answer of a measurement's data carries (`/api/measurements/<code>/data/`):
# above it the client pages (`?limit=`), thins (`?every=`) or takes Parquet/CSV, which stream.
LIMS_DATA_JSON_MAX_ROWS = env_int("LIMS_DATA_JSON_MAX_ROWS", 200_000)
if LIMS_DATA_JSON_MAX_ROWS < 1:
    raise ImproperlyConfigured(
        f"LIMS_DATA_JSON_MAX_ROWS={LIMS_DATA_JSON_MAX_ROWS} must be 1 or more"
    )
# A larger upload is hashed while it arrives and written once, into the store's spool
# (`measurements.storage`), instead of to a temporary file and then again into the store.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "measurements.storage.HashingUploadHandler",
]
# Raw files, Parquet and the plot cache: the "lims" store (LIMS_STORAGE_URL).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "lims": storage_from_env(),
}

# Celery: tasks take ids and JSON, never pickles.
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_from_env()
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "lims")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Hard wall time of one measurement task: the soft limit raises in the task, which marks the
# measurement failed naming the limit; the hard limit (30 s later) kills a task stuck in C
# code. A 1.5-million-row cycling file takes about 3 s, so 600 s is generous.
LIMS_TASK_TIME_LIMIT_S = env_int("LIMS_TASK_TIME_LIMIT_S", 600)
LIMS_TASK_HARD_KILL_AFTER_S = 30
# How long a job may go unstarted after it was sent, or unfinished after it started, before its
# message counts as lost: the hard time limit plus a margin. The same number is Redis's
# visibility timeout (a message a dead worker had taken comes back after it, not after the
# default hour), so a task that is still running within its limits is never redelivered.
LIMS_JOB_LEASE_S = env_int(
    "LIMS_JOB_LEASE_S", LIMS_TASK_TIME_LIMIT_S + LIMS_TASK_HARD_KILL_AFTER_S + 60
)
if CELERY_BROKER_URL.startswith(("redis", "memory")):
    CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] = LIMS_JOB_LEASE_S
# The reconciler (core.jobs.reconcile, run by Celery beat): how often, and how many rows a step
# of one pass takes; failed jobs are kept this many days for inspection.
LIMS_RECONCILE_EVERY_S = env_int("LIMS_RECONCILE_EVERY_S", 30)
LIMS_RECONCILE_BATCH = env_int("LIMS_RECONCILE_BATCH", 500)
LIMS_JOB_KEEP_FAILED_DAYS = env_int("LIMS_JOB_KEEP_FAILED_DAYS", 30)
# A worker's pool process is replaced after a task that left it above this resident size, and
# after this many tasks: memory a parse kept (allocator arenas, caches) is given back. Measured
# (benchmarks/worker_memory.py): an idle pool process holds 174 MB, one 1.5-million-row cycling
# task peaks at 415 MB and leaves 410-460 MB behind; without recycling the peaks of the next
# tasks reach 620 MB.
LIMS_WORKER_MAX_MEMORY_MB = env_int("LIMS_WORKER_MAX_MEMORY_MB", 512)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = LIMS_WORKER_MAX_MEMORY_MB * 1024  # Celery counts KiB
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("LIMS_WORKER_MAX_TASKS_PER_CHILD", 100)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Prometheus (README "Operate it"). /metrics answers loopback clients without login, others
# only with "Authorization: Bearer <LIMS_METRICS_TOKEN>" (empty: loopback only).
LIMS_METRICS_TOKEN = env_str("LIMS_METRICS_TOKEN", "")
# The worker main process serves its task metrics on this port (0: off). Prefork children count
# into files in PROMETHEUS_MULTIPROC_DIR, which must be set (and private to the worker) for that.
LIMS_WORKER_METRICS_PORT = env_int("LIMS_WORKER_METRICS_PORT", 0)
LIMS_WORKER_METRICS_ADDR = env_str("LIMS_WORKER_METRICS_ADDR", "127.0.0.1")
if LIMS_WORKER_METRICS_PORT and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    raise ImproperlyConfigured(
        "LIMS_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (an empty directory of the "
        "worker's own): without it the counts of the pool's child processes are lost"
    )
CELERY_TASK_EAGER_PROPAGATES = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Solid-state battery LIMS API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Records of the lab (reagent lots, LAGP batches and pellets, SPE membranes, ILE "
        "batches, cathodes, cells) by item code, their lineage and lineage tables. "
        "Authenticate with `Authorization: Token <key>` (make a key at /account/token/)."
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: read-only fields are not asked for.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two choice sets share the field name "kind": name their enums after what they are.
    "ENUM_NAME_OVERRIDES": {
        "ItemKindEnum": "core.models.ItemKind",
        "StepKindEnum": "core.models.StepKind",
        "ProjectRoleEnum": "core.models.ProjectRole",
        "ExportStatusEnum": "core.models.ExportStatus",
        "MeasurementStatusEnum": "measurements.models.Status",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Accounts: login lockout and API token lifetime (core/accounts.py, core/api/tokens.py) ---
# django-axes (MIT) counts wrong passwords per username (not per address: the lab's machines
# share one behind NAT, and a lock is about the account) and refuses the account while locked,
# on every path that calls authenticate(): the login page, the admin, the API's password check.
# DRF token authentication never calls it. The failures are counted "in a row": a successful
# login resets them; failures while locked do not extend the lock.
LIMS_LOGIN_FAILURE_LIMIT = env_int("LIMS_LOGIN_FAILURE_LIMIT", 5)
LIMS_LOGIN_LOCK_MINUTES = env_int("LIMS_LOGIN_LOCK_MINUTES", 15)
# Days a new API token works (0: until revoked); a request may ask for fewer, not more.
LIMS_TOKEN_DAYS = env_int("LIMS_TOKEN_DAYS", 90)
# Whether a record's author may sign it (core.permissions.can_sign); staff always may.
LIMS_AUTHOR_MAY_SIGN = env_bool("LIMS_AUTHOR_MAY_SIGN", False)
for _name, _value, _least in (
    ("LIMS_LOGIN_FAILURE_LIMIT", LIMS_LOGIN_FAILURE_LIMIT, 1),
    ("LIMS_LOGIN_LOCK_MINUTES", LIMS_LOGIN_LOCK_MINUTES, 0),
    ("LIMS_TOKEN_DAYS", LIMS_TOKEN_DAYS, 0),
):
    if _value < _least:
        raise ImproperlyConfigured(f"{_name}={_value} must be {_least} or more")
INSTALLED_APPS.append("axes")
AUTHENTICATION_BACKENDS = [
    "core.accounts.LockoutBackend",  # first: refuses a locked account before the password
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes asks
AXES_FAILURE_LIMIT = LIMS_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LIMS_LOGIN_LOCK_MINUTES) if LIMS_LOGIN_LOCK_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 asks for "ip_address" too: that would lock every account behind the lab's shared
# address after a few typos from anyone. Rotating user agents or cookies does not help an
# attacker here: the failures of a username are summed over all of them (tested).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure with its time and address, in the admin
AXES_LOCKOUT_CALLABLE = "core.accounts.lockout_response"
# axes logs every successful login at INFO; its warnings (failures, locks) are what matter.
LOGGING["loggers"] = {"axes": {"level": "WARNING"}}
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"][0] = (
    "core.api.authentication.ExpiringTokenAuthentication"
)
# --- end of accounts ---
