"""Settings for the test suite: the real settings with a throwaway secret key.

DATABASE_URL and CELERY_BROKER_URL still come from the environment, so CI runs the same suite
against PostgreSQL and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-suite-only-not-secret")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
MEDIA_ROOT = VAR_DIR / "test-media"  # noqa: F405
