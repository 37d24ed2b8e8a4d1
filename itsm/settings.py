"""One settings module, configured from the environment (12-factor).

With no environment set the product runs on its embedded default: SQLite (WAL, immediate
transactions) and kombu's filesystem broker, so a real Celery worker and beat need no server.
Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL and REDIS_URL (Redis).
Tests use `itsm.settings_test`, named by pytest's configuration: nothing here guesses whether it
runs under a test.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse_lazy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("ITSM_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
TESTING = False  # itsm.settings_test turns it on

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set unless DEBUG=true.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    # Ours, in the direction of the import arrows: itsm <- communications <- incidents <- problems
    # <- status, reporting.
    "itsm",
    "communications",
    "incidents",
    "problems",
    "status",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "itsm.api.middleware.ApiBodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Opt-in extras, e.g. the benchmark's query counter: EXTRA_MIDDLEWARE=bench.middleware.QueryCount
    *env.list("EXTRA_MIDDLEWARE", default=[]),
]

# Console messages live in the session (loaded only when used): the default cookie storage builds
# a signer on every request, API calls included.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "itsm.urls"
WSGI_APPLICATION = "itsm.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Two gunicorn workers and a Celery worker share one file: WAL lets readers run beside a
    # writer, IMMEDIATE takes the write lock up front (no lock upgrade deadlocks) and the busy
    # timeout waits instead of answering "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling, idempotency look-ups) -------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # A cache outage must not fail requests: throttling degrades open, never to a 500.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
else:
    # The embedded default (`make run`): a cache every process sees (web, worker, beat), so
    # version bumps of per-process look-ups (itsm.procache, communications' snapshot) reach all.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 10_000},
        }
    }

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True  # a task killed mid-run is redelivered; tasks are idempotent
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Celery's Django fix-up closes the database connection around every task unless told to reuse
# it: a new PostgreSQL session per notification or SLA check costs more than the work itself.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Everything the filesystem transport writes stays under var/ (gitignored), its exchange
    # tables too: kombu's default control folder is `control/` in the working directory.
    _broker_folder = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_folder / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder / "queue"),
        "data_folder_out": str(_broker_folder / "queue"),
        "processed_folder": str(_broker_folder / "processed"),
        "control_folder": str(_broker_folder / "control"),
        "store_processed": False,
    }
else:
    # Fail fast when the broker is down: the web process never waits on it (the sweeps re-send).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
        "max_retries": 0,
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = 1

# --- Auth ---------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"  # a login without ?next= lands on the console, not /accounts/profile/

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True  # timestamps are stored in UTC whatever TIME_ZONE says

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Hashed, compressed copies once `collectstatic` has run (`make run` runs it when DEBUG is off);
# before that, plain names served from the apps' directories: a missing manifest never takes a
# page down (itsm.staticfiles). DEBUG links plain names whatever the storage.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "itsm.staticfiles.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG or not (STATIC_ROOT / "staticfiles.json").exists()

# --- Email --------------------------------------------------------------------------------------
# With no EMAIL_URL (the embedded default, `make run`), each message is a .eml file under
# var/mail/ and one line in the log, instead of every message's full HTML on the terminal.
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
if env.str("EMAIL_URL", default=""):
    EMAIL_CONFIG = env.email_url("EMAIL_URL")
    vars().update(EMAIL_CONFIG)
else:
    EMAIL_BACKEND = "itsm.mailbackend.EmlFileBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itsm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security (TLS is usually terminated by a proxy: these come from the environment) ----------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- API --------------------------------------------------------------------------------------
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_BYTES, 2_621_440)
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="1200/min")
ALERT_THROTTLE_RATE = env.str("ALERT_THROTTLE_RATE", default="6000/min")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "itsm.api.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["itsm.api.permissions.IsAuthenticatedReadOrAdministrator"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "itsm.api.filters.FilterBackend",
        "itsm.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "itsm.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["itsm.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_THROTTLE_RATE, "alerts": ALERT_THROTTLE_RATE},
    "EXCEPTION_HANDLER": "itsm.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "COERCE_DECIMAL_TO_STRING": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM API",
    "DESCRIPTION": "Incidents, major incidents, problems and their configuration. "
    "Errors share one shape: {type, detail, errors}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Impact and urgency share one 1-3 scale; one enum name keeps generated clients tidy.
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "itsm.choices.Impact",
        "IncidentChannelEnum": "incidents.choices.Channel",
        "IncidentTransitionEnum": "incidents.choices.Transition",
        "NotificationChannelEnum": "communications.choices.Channel",
        "NotificationStatusEnum": "communications.choices.Status",
        "IncidentStateEnum": "incidents.choices.IncidentState",
        "MajorIncidentStateEnum": "incidents.major.choices.MajorIncidentState",
        "MajorIncidentTransitionEnum": "incidents.major.choices.MajorTransition",
        "StakeholderUpdateStatusEnum": "incidents.major.choices.UpdateStatus",
        "AudienceEnum": "incidents.major.choices.Audience",
        "TriggerActionEnum": "incidents.response.choices.TriggerAction",
        "ActionEnum": "incidents.alerts.services.ACTIONS",  # the alert event action keeps its name
        "ProblemStateEnum": "problems.choices.ProblemState",
        "ProblemTransitionEnum": "problems.choices.ProblemTransition",
        "KnownErrorStateEnum": "problems.choices.KnownErrorState",
        "KnownErrorUseKindEnum": "problems.choices.KnownErrorUseKind",
        "KindEnum": "itsm.choices.SlaKind",  # the SLA kind keeps its name beside the known error use kind
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "itsm.api.schema.add_error_responses",
    ],
}

# --- Product settings an administrator may change through the environment ----------------------
ITSM_SITE_URL = env.str("ITSM_SITE_URL", default="http://127.0.0.1:8000")
# The longest period a report covers, in days, per interval (API.md: 400 beyond it).
REPORTS_MAX_DAYS = {
    "day": env.int("REPORTS_MAX_DAYS_AT_DAY", default=731),
    "week": env.int("REPORTS_MAX_DAYS_AT_WEEK", default=1831),
    "month": env.int("REPORTS_MAX_DAYS_AT_MONTH", default=3653),
}
# How long managers share the dashboard's figures (0: computed on every request).
REPORTS_DASHBOARD_CACHE_SECONDS = env.int("REPORTS_DASHBOARD_CACHE_SECONDS", default=60)

# --- Admin (Unfold) -----------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "ITSM",
    "SITE_HEADER": "ITSM console",
    "SITE_SYMBOL": "support_agent",
    "SHOW_HISTORY": True,
    # The home page is the dashboard (agents' work, managers' charts); named by path: itsm does not
    # import reporting.
    "DASHBOARD_CALLBACK": "reporting.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "itsm.admin_navigation.navigation",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

_ = reverse_lazy  # kept importable for navigation callables
