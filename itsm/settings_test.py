"""Test settings: the product's settings plus what tests need, chosen explicitly.

pytest names this module (`DJANGO_SETTINGS_MODULE` in pyproject's `[tool.pytest.ini_options]`,
which pytest-django also exports to the environment, so the Celery worker the integration tests
start reads it too); scripts/test.sh names it for `manage.py check` and friends. The product's
settings never guess whether they run under a test.
"""

import os

# The base settings refuse to start without a secret unless DEBUG; tests run with DEBUG off.
os.environ.setdefault("SECRET_KEY", "django-insecure-test-only-key-never-use-in-production")

from itsm.settings import *  # noqa: F403
from itsm.settings import REDIS_URL, env

TESTING = True

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

if not REDIS_URL:
    # One process does everything in unit tests: a local-memory cache is enough (and trusted by
    # itsm.procache only here). Integration tests set REDIS_URL and get the real shared cache.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if not env.str("EMAIL_URL", default=""):
    # Processes tests start (the integration tests' worker) keep mail in memory, not in var/mail/;
    # the test process itself gets Django's test outbox anyway.
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# No collectstatic before tests: plain storage, as under DEBUG.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
