"""Settings for the test suite: the real settings with a throwaway secret key.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so CI runs the same suite
against PostgreSQL and Redis.
"""

import os
import uuid

os.environ.setdefault("SECRET_KEY", "test-suite-only-not-secret")
# The test client and the live server speak plain http (CI runs the suite with DEBUG=0, which
# would otherwise turn HTTPS on and redirect every request).
os.environ.setdefault("LIMS_HTTPS", "0")
# A queue of this test run's own, so a worker started by the integration tests never takes tasks
# from (or gives them to) a `make run` worker sharing the same broker.
os.environ.setdefault("CELERY_QUEUE", f"lims-test-{uuid.uuid4().hex[:8]}")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405

# On an object store, this test run's own prefix in the bucket (passed to the integration
# tests' worker through the environment, like the queue), so runs never meet each other's
# objects and a test that damages an object damages only its own.
os.environ.setdefault("LIMS_TEST_STORE_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
if STORAGES["lims"]["BACKEND"].endswith("S3Storage"):  # noqa: F405
    _options = STORAGES["lims"]["OPTIONS"]  # noqa: F405
    _options["location"] = "/".join(
        p for p in (_options["location"], os.environ["LIMS_TEST_STORE_PREFIX"]) if p
    )
