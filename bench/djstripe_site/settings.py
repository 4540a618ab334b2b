"""Django settings: dj-stripe as its documentation sets it up, on Postgres, pointed at the
Stripe emulator through ``stripe.api_base``.

Everything varying comes from the environment the benchmark sets: ``DJSTRIPE_DB_*``,
``STRIPE_API_BASE`` and ``STRIPE_TEST_SECRET_KEY``.
"""

import os

import stripe

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "bench.djstripe_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djstripe"]
# CommonMiddleware sets Content-Length, so the load generator's keep-alive connections work.
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DJSTRIPE_DB_NAME", "djstripe_bench"),
        "USER": os.environ.get("DJSTRIPE_DB_USER", "postgres"),
        "HOST": os.environ.get("DJSTRIPE_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DJSTRIPE_DB_PORT", "5432"),
        # Persistent connections: no connect per request, the kindest production setting.
        "CONN_MAX_AGE": None,
    }
}

STRIPE_TEST_SECRET_KEY = os.environ["STRIPE_TEST_SECRET_KEY"]
STRIPE_LIVE_MODE = False
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
stripe.api_base = os.environ["STRIPE_API_BASE"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
