"""Settings, read from the environment with safe defaults for local use.

Every variable is listed in README.md ("Configuration"). A bad value stops start-up with one
sentence that says what is wrong and how to fix it (see kpi_planner/config.py).
"""

import re
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from kpi_planner.config import (
    DEV_SECRET_KEY,
    broker_url,
    check_secret_key,
    database_config,
    env_bool,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
check_secret_key(SECRET_KEY, debug=DEBUG)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # Failed sign-ins counted per account and per IP (engagements/auth.py, README "API tokens
    # and sign-in protection"). rest_framework.authtoken is gone: engagements.ApiToken.
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csp",
    "kpi_planner",
    "engagements",
    "kpitree",
    "scorecard",
    "portal",
    "money",
    "sourcing",
    "pdca",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early: API bodies over API_MAX_BODY_MB answer 413 unread; API errors are JSON (its text).
    "kpi_planner.limits.ApiLimitsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Turns a locked-out sign-in on the login form into engagements.auth.lockout_response.
    "axes.middleware.AxesMiddleware",
    "kpi_planner.middleware.NoStoreForUsersMiddleware",
    "kpi_planner.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, next to the views: API writes with an Idempotency-Key run once (its docstring).
    "kpi_planner.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "kpi_planner.urls"
WSGI_APPLICATION = "kpi_planner.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kpi_planner.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'kpi_planner.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
# A kept connection is checked before a request reuses it: after a PostgreSQL restart no worker
# fails a request on a dead connection.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "engagements.User"
# The lockout check first: a locked-out account or IP is refused before its password is tried.
AUTHENTICATION_BACKENDS = [
    "engagements.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not the demo accounts' password (engagements.demo.DEMO_PASSWORD, printed in the README).
    {
        "NAME": "engagements.passwords.PublishedPasswordValidator",
        "OPTIONS": {"passwords": ["kpi-demo-2026"]},
    },
    # Checks nothing: revokes the user's API tokens whenever a new password is saved.
    {"NAME": "engagements.passwords.RevokeApiTokensOnPasswordChange"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Japanese first, English complete.
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "ja")
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Tokyo")
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# E-mail: the console in local use; SMTP when EMAIL_HOST is set.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "KPI Planner <kpi-planner@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Actuals are refused for a month that has not ended; set to 1 for feeds that report the
# current month as it goes (weekly counts).
ACTUALS_ALLOW_CURRENT_MONTH = env_bool("ACTUALS_ALLOW_CURRENT_MONTH", False)

# Design lint thresholds (kpitree/lint.py, README "Configuration"); the defaults are DOMAIN.md's.
LINT_TOO_MANY_KPIS = env_int("LINT_TOO_MANY_KPIS", 10)  # KPIs of one engagement / under one node
LINT_TARGET_FAR_RATIO = float(env_str("LINT_TARGET_FAR_RATIO", "0.30"))  # target vs benchmark
LINT_HISTORY_MONTHS = env_int("LINT_HISTORY_MONTHS", 3)  # the recent actuals a target is held to
LINT_REVIEW_DAYS = {  # days a KPI may go unreviewed, per review cadence
    "monthly": env_int("LINT_REVIEW_DAYS_MONTHLY", 31),
    "quarterly": env_int("LINT_REVIEW_DAYS_QUARTERLY", 92),
    "yearly": env_int("LINT_REVIEW_DAYS_YEARLY", 366),
}

# Request limits (kpi_planner/limits.py, README "API"). An API body (`/api/`) may be
# API_MAX_BODY_MB (MiB): 50,000 actuals with Japanese comments are 8-11 MB of JSON; a page's
# form keeps Django's 2.5 MB (file uploads are not counted). A bulk call takes at most
# API_MAX_ROWS rows; JSON nests at most API_JSON_MAX_DEPTH levels; an actuals bulk write of
# more than API_ASYNC_ROWS rows runs as a background job (202 and /api/v1/jobs/{id}/).
API_MAX_BODY_MB = env_int("API_MAX_BODY_MB", 25)
API_MAX_ROWS = env_int("API_MAX_ROWS", 50_000)
API_JSON_MAX_DEPTH = env_int("API_JSON_MAX_DEPTH", 32)
API_ASYNC_ROWS = env_int("API_ASYNC_ROWS", 5_000)
for _limit in ("API_MAX_BODY_MB", "API_MAX_ROWS", "API_JSON_MAX_DEPTH", "API_ASYNC_ROWS"):
    if globals()[_limit] < 1:
        raise ImproperlyConfigured(f"{_limit}={globals()[_limit]} must be 1 or more.")
FORM_MAX_BODY_BYTES = 2_621_440
# Django's own check (request.body, streamed bodies included) at the larger of the two limits;
# ApiLimitsMiddleware applies the form limit to the pages.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(API_MAX_BODY_MB * 1024 * 1024, FORM_MAX_BODY_BYTES)

# The address users reach the app at: links in reminder e-mails are built from it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Security headers (README "Operating in production"). SecurityMiddleware sends nosniff, the
# Referrer-Policy, the Cross-Origin-Opener-Policy and, in production, HSTS; X-Frame-Options
# comes from XFrameOptionsMiddleware, the Content-Security-Policy from django-csp;
# kpi_planner.middleware.NoStoreForUsersMiddleware keeps a logged-in user's pages out of caches.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# The page scripts take the CSRF token from the form or the page, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain HTTP goes to HTTPS (the proxy sets X-Forwarded-Proto); 0 only on a trusted network
    # without TLS, which also turns HSTS off unless SECURE_HSTS_SECONDS says otherwise.
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int(
        "SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SECURE_SSL_REDIRECT else 0
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # The load balancer's health check may come over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy: only the app's own scripts, styles, images and fonts; no inline
# script, no inline event handler, no framing (the page scripts are files under static/js/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # 'unsafe-inline' for styles only: plotly.js (3.x, bundled by plotly 7) writes its own
        # CSS (modebar, hover labels) into a <style> element when it loads and ships no
        # stylesheet to use instead (plotly/plotly.js#7543), and the tree editor indents rows
        # with style="--depth: n". A style cannot run code; scripts stay 'self' only.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
    },
}

# Celery: Redis when CELERY_BROKER_URL is set, otherwise a folder queue under var/ (no server).
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url(
    env_str("CELERY_BROKER_URL", ""), VAR_DIR
)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
# Tasks sent from requests ignore their results (see kpitree/tasks.py); their failures are still
# recorded when a result backend is configured.
CELERY_TASK_STORE_ERRORS_EVEN_IF_IGNORED = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 10 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 9 * 60
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that committed must not hang on a broker that is down: try briefly, then give up
# (kpi_planner.queueing logs it; what was owed is in the database and the sweeps resend it).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Every periodic job is declared here, in one place; beat copies it into the database, where
# a manager may change its timing in the admin.
CELERY_BEAT_SCHEDULE: dict = {
    # Prompt, so that a broker outage or a worker that died with its task delays a recompute
    # by well under a minute; a sweep that finds nothing stale costs one query.
    "recompute-stale-trees": {"task": "kpitree.recompute_stale", "schedule": 20.0},
    "deliver-pending-notifications": {"task": "engagements.deliver_pending", "schedule": 60.0},
    # Actuals imports whose message was lost (broker outage, dead worker): kpitree.services.jobs.
    "resend-import-jobs": {"task": "kpitree.resend_import_jobs", "schedule": 60.0},
    # Answers kept for Idempotency-Key retries expire after 24 h (kpi_planner.idempotency).
    "purge-idempotency-records": {
        "task": "kpi_planner.purge_idempotency_records",
        "schedule": 3600.0,
    },
}
# Vendor portal (portal.tasks; the task names keep their first prefix, `engagements.`, so
# schedules saved in the database and messages already queued still find them): reminders and overdue notices at 09:00, and the managers'
# digest of months awaiting approval at 08:30, Asia/Tokyo (CELERY_TIMEZONE).

CELERY_BEAT_SCHEDULE["portal-reminders"] = {
    "task": "engagements.send_reminders",
    "schedule": crontab(hour=9, minute=0),
}
CELERY_BEAT_SCHEDULE["portal-approval-digest"] = {
    "task": "engagements.send_approval_digest",
    "schedule": crontab(hour=8, minute=30),
}
# The alerts of those who chose one e-mail a day (User.alert_digest), at 08:00 Asia/Tokyo.
CELERY_BEAT_SCHEDULE["pdca-alert-digest"] = {
    "task": "pdca.send_alert_digests",
    "schedule": crontab(hour=8, minute=0),
}
# Open actions past their due date: their owner and the manager, once a day, at 09:05.
CELERY_BEAT_SCHEDULE["pdca-overdue-actions"] = {
    "task": "pdca.remind_overdue_actions",
    "schedule": crontab(hour=9, minute=5),
}

# Money: the sweep that brings every statement up to date (one is also computed when a month is
# approved), nightly at 02:30.
CELERY_BEAT_SCHEDULE["money-statements-sweep"] = {
    "task": "money.compute_statements",
    "schedule": crontab(hour=2, minute=30),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "engagements.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Per token (or session user); auth/token/ has its own per IP and per username. The rates are
    # API_THROTTLE_RATES below, read when a request comes.
    "DEFAULT_THROTTLE_CLASSES": ["engagements.auth.TokenRateThrottle"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "kpi_planner.api.exception_handler",
    # JSON nested deeper than API_JSON_MAX_DEPTH is refused (400) before it is parsed.
    "DEFAULT_PARSER_CLASSES": [
        "kpi_planner.limits.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

# API tokens and sign-in protection (README "API tokens and sign-in protection").
API_TOKEN_EXPIRY_DAYS = env_int("API_TOKEN_EXPIRY_DAYS", 90)
if not 1 <= API_TOKEN_EXPIRY_DAYS <= 365:
    raise ImproperlyConfigured(
        f"API_TOKEN_EXPIRY_DAYS={API_TOKEN_EXPIRY_DAYS} is out of range: use 1 to 365 days."
    )
API_THROTTLE_RATES = {
    "token": env_str("API_THROTTLE_RATE", "1200/min"),
    "sign_in_ip": env_str("API_SIGN_IN_RATE_IP", "30/min"),
    "sign_in_user": env_str("API_SIGN_IN_RATE_USER", "10/min"),
}
for _name, _rate in API_THROTTLE_RATES.items():
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|m|min|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(
            f"The {_name} API rate {_rate!r} is not understood: write it like 1200/min "
            "(a number per s, min, hour or day)."
        )
# Proxies in front of the app that append to X-Forwarded-For (0: the client is REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# django-axes, database handler (attempts in the database: shared by every process, kept
# across restarts, no cache needed). Locked out after LOGIN_FAILURE_LIMIT failures per
# account or per IP, until LOGIN_COOLOFF_MINUTES after the last one.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_CLIENT_IP_CALLABLE = "engagements.auth.client_ip"
AXES_LOCKOUT_CALLABLE = "engagements.auth.lockout_response"
AXES_VERBOSE = False
# The throttles' counters: Redis in production (CACHE_URL=redis://host:6379/2), shared by every
# process; unset, a cache in the process's memory (local use, tests).
CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

SPECTACULAR_SETTINGS = {
    "TITLE": "KPI Planner API",
    "DESCRIPTION": "REST API v1 of KPI Planner: vendors, engagements, KPI trees, targets, "
    "actuals, rollups and scores. Objects are addressed by their codes.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The error responses of every operation, in the format of API.md (kpi_planner/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kpi_planner.schema.describe_errors",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
