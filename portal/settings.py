"""Quaygate settings, read from the environment.

Two shapes:
- the embedded default (QUAYGATE_ENV unset or "embedded"): SQLite in WAL mode, a local-memory
  cache, a filesystem Celery broker and emails written to var/mail. For `make run` and tests on
  one laptop; it says so when it starts.
- production (QUAYGATE_ENV=production): refuses to start without SECRET_KEY, TOKEN_HASH_KEY,
  ALLOWED_HOSTS and DATABASE_URL; secure cookies, HSTS, SSL redirect.
DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis in either shape.
"""

import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_secret,
    env_str,
    sqlite_database,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("QUAYGATE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

QUAYGATE_ENV = env_str("QUAYGATE_ENV", "embedded")
if QUAYGATE_ENV not in {"embedded", "production"}:
    raise ImproperlyConfigured(
        f"QUAYGATE_ENV must be 'embedded' or 'production', not {QUAYGATE_ENV!r}"
    )
PRODUCTION = QUAYGATE_ENV == "production"
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

DEBUG = env_bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when QUAYGATE_ENV=production")


def _embedded_secret(name: str) -> str:
    """A random secret kept in var/ so sessions and token hashes survive restarts."""
    path = VAR_DIR / f"{name.lower()}.secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _required_secret(name: str) -> str:
    value = env_secret(name)
    if value:
        if PRODUCTION and len(value) < 32:
            raise ImproperlyConfigured(f"{name} must be at least 32 characters long")
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(
            f"{name} (or {name}_FILE) must be set when QUAYGATE_ENV=production"
        )
    return _embedded_secret(name)


SECRET_KEY = _required_secret("SECRET_KEY")
# The key of the HMAC that token hashes are made with. Kept apart from SECRET_KEY and from the
# database, so a database dump alone cannot be used to test guesses offline.
TOKEN_HASH_KEY = _required_secret("TOKEN_HASH_KEY")
if PRODUCTION and TOKEN_HASH_KEY == SECRET_KEY:
    raise ImproperlyConfigured("TOKEN_HASH_KEY must differ from SECRET_KEY")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when QUAYGATE_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# The public address of the portal, for links in emails. Unset, it follows HOST and PORT (what
# `make run` serves on), so the links in a laptop's emails point at the running server.
_site_host = env_str("HOST", "127.0.0.1")
_site_host = "127.0.0.1" if _site_host in {"", "0.0.0.0", "::"} else _site_host  # noqa: S104
_site_host = f"[{_site_host}]" if ":" in _site_host else _site_host
SITE_URL = env_str("SITE_URL", f"http://{_site_host}:{env_int('PORT', 8000)}").rstrip("/")

# The API's changelog: one file in the repository (changelog/entries.py reads and checks it).
API_CHANGELOG_FILE = env_str("API_CHANGELOG_FILE", str(BASE_DIR / "changelog" / "changelog.toml"))

INSTALLED_APPS = [
    "accounts",
    "notifications",
    "fleet",
    "tokens",
    "telemetry",
    # Two-factor devices (issue 16): TOTP from django-otp; passkeys and hashed recovery codes
    # are twofactor's own django-otp devices. Before portal, whose admin unregisters django-otp's
    # device pages (they would show TOTP keys).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "twofactor",
    "members",
    "webhooks",
    "observability",
    "changelog",
    "api",
    "portal",
    # Django's admin, on a site that asks staff for their second factor (portal.admin_site).
    "portal.admin_apps.QuaygateAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    # First: the request id is on every response, and in everything below (logs, usage, tasks).
    "observability.middleware.RequestObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Near the top so the logged latency covers everything below it (auth, throttling, view).
    "telemetry.middleware.UsageLogMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed a second factor (the admin needs it).
    "django_otp.middleware.OTPMiddleware",
    # A new token's secret waits in the session for its one page view, no longer.
    "portal.middleware.PendingSecretMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # An organisation requiring 2FA: its pages answer "set it up first" to members without it.
    "portal.two_factor_gate.TwoFactorGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
elif PRODUCTION:
    raise ImproperlyConfigured("DATABASE_URL must be set when QUAYGATE_ENV=production")
else:
    DATABASES = {"default": sqlite_database(str(VAR_DIR / "quaygate.sqlite3"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Redis ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "qg",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60

# --- Security headers -----------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 12
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if env_bool("SECURE_PROXY_SSL", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Preloading HSTS is a commitment for the whole domain that its owner opts into
    # (SECURE_HSTS_PRELOAD=1); until then the check that recommends it is silenced.
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Client IPs: X-Forwarded-For is believed only when the direct peer is one of these proxies.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")

# --- I18N, static ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve straight from the app folders when collectstatic has not run (embedded default, tests).
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # API bodies are small; larger ones get a 413 problem

# --- Email ----------------------------------------------------------------------------------
_email_host = env_str("EMAIL_HOST")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Quaygate <no-reply@quaygate.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAIL_DIR = VAR_DIR / "mail"
if _email_host:
    _email_port = env_int("EMAIL_PORT", 587)
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": _email_port,
                "username": env_str("EMAIL_HOST_USER") or None,
                "password": env_secret("EMAIL_HOST_PASSWORD") or None,
                "use_tls": env_bool("EMAIL_USE_TLS", _email_port == 587),
                "use_ssl": env_bool("EMAIL_USE_SSL", _email_port == 465),
                "timeout": env_int("EMAIL_TIMEOUT", 10),
            },
        },
    }
elif PRODUCTION:
    raise ImproperlyConfigured(
        "EMAIL_HOST must be set when QUAYGATE_ENV=production (notices are emails)"
    )
else:
    # The embedded default: every email is a file in var/mail that a person can open.
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(MAIL_DIR)},
        },
    }

# --- Celery ---------------------------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # A broker that needs no server: messages are files in var/celery.
    _broker_dir = VAR_DIR / "celery"
    _broker_dir.mkdir(exist_ok=True)
    # A hostname, though the transport ignores it: without one kombu warns on every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir),
        # Exchange tables (broadcast, remote control); kombu's default is ./control in the cwd.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (JSON lines in production, with the request id), not
# Celery's own root handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The whole beat schedule, in one place.
CELERY_BEAT_SCHEDULE: dict = {
    # Usage log: stream -> database (a no-op without Redis), anomaly checks, retention.
    "telemetry-drain-usage": {"task": "telemetry.drain_usage_stream", "schedule": 10.0},
    "telemetry-detect-anomalies": {"task": "telemetry.detect_anomalies", "schedule": 300.0},
    "telemetry-purge-usage": {"task": "telemetry.purge_old_usage", "schedule": 3600.0},
    # PostgreSQL: the usage log's day partitions, a week ahead (a no-op on SQLite).
    "telemetry-create-usage-partitions": {
        "task": "telemetry.create_usage_partitions",
        "schedule": 3600.0,
    },
    # Tokens: the "expired" audit line once per token; the policy's unused-token revocation;
    # expiry notices (30 / 7 / 1 days, expired).
    "tokens-expire-due": {"task": "tokens.expire_due_tokens", "schedule": 300.0},
    "tokens-expire-pending-requests": {
        "task": "tokens.expire_pending_requests",
        "schedule": 3600.0,
    },
    "tokens-revoke-unused": {"task": "tokens.revoke_unused_tokens", "schedule": 3600.0},
    "tokens-expiry-notices": {"task": "tokens.send_expiry_notices", "schedule": 3600.0},
    # Issue 18: walk every audit hash chain once a day; a broken one is recorded and emailed.
    "tokens-check-audit-chains": {"task": "tokens.check_audit_chains", "schedule": 86400.0},
    # API: forget Idempotency-Key answers after their 24 hours.
    "api-purge-idempotency-records": {"task": "api.purge_idempotency_records", "schedule": 3600.0},
    # GitHub's secret-scanning keys, when SECRET_SCANNING_GITHUB_KEYS_URL is set.
    "api-refresh-secret-scanning-keys": {
        "task": "api.refresh_secret_scanning_keys",
        "schedule": 3600.0,
    },
    # Two-factor policy: the "your tokens stop in a day" reminder to members without 2FA.
    "twofactor-grace-reminders": {"task": "twofactor.send_grace_reminders", "schedule": 3600.0},
    # Webhooks: send due deliveries (retries, ones a dead worker held past its lease) and the
    # hourly "token.expiring" events.
    "webhooks-sweep-deliveries": {"task": "webhooks.sweep_deliveries", "schedule": 30.0},
    "webhooks-expiring-tokens": {"task": "webhooks.emit_expiring_tokens", "schedule": 3600.0},
    "webhooks-purge-old-events": {"task": "webhooks.purge_old_events", "schedule": 3600.0},
    # Email outbox: re-send what a dead worker or a lost message left behind.
    "notifications-sweep-outbox": {"task": "notifications.sweep_outbox", "schedule": 60.0},
    # /metrics: live tokens and findings counted here, not per scrape; the worker heartbeat.
    "observability-refresh-snapshot": {"task": "observability.refresh_snapshot", "schedule": 60.0},
}

# --- REST framework, OpenAPI ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Bounded size, every decoding failure a 400 (DRF's own reads any size, 500s on deep nesting).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API error, expected or not, as application/problem+json (RFC 9457).
    "EXCEPTION_HANDLER": "api.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Quaygate partner API",
    "DESCRIPTION": (
        "Read your spreader fleet's terminals, telemetry, alarms and maintenance with a "
        "personal access token, sent as `Authorization: Bearer qgp_…`. Start with the "
        "[getting-started guide](/api/getting-started/): creating a token, a first call, "
        "pagination, errors (`application/problem+json`), rate limits (`X-RateLimit-*`), "
        "rotation and deprecation (`Deprecation` / `Sunset` headers)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "TAGS": [
        {"name": "Fleet", "description": "Terminals and spreaders (`fleet:read`)."},
        {"name": "Telemetry", "description": "Readings and hourly/daily aggregates."},
        {"name": "Alarms", "description": "Alarms and their acknowledgement."},
        {"name": "Maintenance", "description": "Maintenance records."},
        {"name": "Token", "description": "The calling token: inspect, rotate, revoke."},
        {
            "name": "Audit log",
            "description": "Your organisation's audit log and its hash chain (`audit:read`, "
            "organisation admins' tokens only).",
        },
        {"name": "Sandbox", "description": "The sandbox fleet of sandbox (`qgs_`) tokens."},
        {"name": "Security", "description": "Reporting leaked tokens (no authentication)."},
    ],
    # Swagger UI keeps an entered token in memory only (no persistAuthorization).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "displayRequestDuration": True},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two serializers have a `kind` field: maintenance keeps its KindEnum, the changelog's is named.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "fleet.models.MaintenanceRecord.Kind",
        "ChangeKindEnum": "changelog.entries.KINDS",
    },
    # x-codeSamples (curl, Python, JavaScript) for every operation, made from the schema itself.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.samples.add_code_samples",
    ],
}

# --- Logging --------------------------------------------------------------------------------
# JSON lines in production (python-json-logger), readable text in the embedded default; either
# with the request id and, in API requests, organisation, token prefix and route
# (observability.logs), and with anything shaped like a secret redacted.
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "observability.logs.RequestContextFilter"}},
    "formatters": {
        "text": {
            "()": "observability.logs.RedactingTextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {
            "()": "observability.logs.RedactingJsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
            # `make run`: WARNING here, everything in LOG_FILE.
            "level": env_str("LOG_CONSOLE_LEVEL", "NOTSET"),
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # httpx logs every request's URL at INFO; a webhook URL may carry its receiver's key.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
if env_str("LOG_FILE"):
    LOGGING["handlers"]["file"] = {
        "class": "logging.FileHandler",
        "filename": env_str("LOG_FILE"),
        "formatter": LOG_FORMAT,
        "filters": ["request_context"],
    }
    LOGGING["root"]["handlers"].append("file")

# --- Metrics (/metrics, observability) ------------------------------------------------------
if PRODUCTION and 0 < len(env_secret("METRICS_BEARER_TOKEN")) < 32:
    raise ImproperlyConfigured("METRICS_BEARER_TOKEN must be at least 32 characters long")
# gunicorn runs several worker processes: each writes its metrics into files in this directory
# (one per process) and /metrics sums them. An empty directory per host, wiped before start.
_multiproc_dir = env_str("PROMETHEUS_MULTIPROC_DIR")
if _multiproc_dir and not Path(_multiproc_dir).is_dir():
    raise ImproperlyConfigured(f"PROMETHEUS_MULTIPROC_DIR={_multiproc_dir!r} is not a directory")

# --- Quaygate -------------------------------------------------------------------------------
QUAYGATE = {
    "TOKEN_CACHE_TTL": env_int("TOKEN_CACHE_TTL", 60),
    "DEFAULT_RATE_LIMIT_PER_HOUR": env_int("DEFAULT_RATE_LIMIT_PER_HOUR", 5000),
    # The plan's defaults (issue 15), for organisations whose plan leaves them empty: the
    # hourly ceiling on every production token, a lower one on sandbox tokens (low enough that
    # a partner meets 429 and Retry-After while testing), and how many tokens may be alive.
    "PLAN_RATE_LIMIT_PER_HOUR": env_int("PLAN_RATE_LIMIT_PER_HOUR", 10_000),
    "PLAN_SANDBOX_RATE_LIMIT_PER_HOUR": env_int("PLAN_SANDBOX_RATE_LIMIT_PER_HOUR", 500),
    "PLAN_MAX_ACTIVE_TOKENS": env_int("PLAN_MAX_ACTIVE_TOKENS", 50),
    # Who hears of a new production-access request. Empty: every active staff user.
    "OPS_NOTIFY_EMAILS": env_list("OPS_NOTIFY_EMAILS", []),
    "USAGE_RETENTION_DAYS": env_int("USAGE_RETENTION_DAYS", 90),
    "GEOIP_MMDB_PATH": env_str("GEOIP_MMDB_PATH"),
    # Per-address limits (django-ratelimit, shared cache; they fail open if the cache is down).
    "API_AUTH_FAILURES_PER_IP": env_str("API_AUTH_FAILURES_PER_IP", "30/m"),
    "API_LEAK_REPORTS_PER_IP": env_str("API_LEAK_REPORTS_PER_IP", "20/h"),
    "API_SECRET_SCANNING_PER_IP": env_str("API_SECRET_SCANNING_PER_IP", "60/m"),
    # GitHub secret scanning (POST /api/v1/secret-scanning/github): GitHub's public keys document
    # ({"public_keys": [...]}, as GitHub serves it) in a file; optionally a URL that beat
    # refreshes them from hourly. Never fetched while an alert waits.
    "SECRET_SCANNING_GITHUB_KEYS_FILE": env_str("SECRET_SCANNING_GITHUB_KEYS_FILE"),
    "SECRET_SCANNING_GITHUB_KEYS_URL": env_str("SECRET_SCANNING_GITHUB_KEYS_URL"),
    # Email delivery: attempts before a notification is `failed`, exponential backoff between
    # them, and when the sweeper treats a row as lost. SENDING_TIMEOUT must stay far above
    # EMAIL_TIMEOUT: a row still being sent must never look abandoned.
    "NOTIFICATION_MAX_ATTEMPTS": env_int("NOTIFICATION_MAX_ATTEMPTS", 8),
    "NOTIFICATION_RETRY_BASE_SECONDS": env_int("NOTIFICATION_RETRY_BASE_SECONDS", 30),
    "NOTIFICATION_RETRY_MAX_SECONDS": env_int("NOTIFICATION_RETRY_MAX_SECONDS", 3600),
    "NOTIFICATION_SENDING_TIMEOUT_SECONDS": env_int("NOTIFICATION_SENDING_TIMEOUT_SECONDS", 900),
    "NOTIFICATION_QUEUED_GRACE_SECONDS": env_int("NOTIFICATION_QUEUED_GRACE_SECONDS", 300),
    # Webhooks (webhooks/): the signing secrets are stored encrypted with this key (Fernet);
    # unset, a key derived from SECRET_KEY. Loopback targets (and plain http to them) only
    # outside production; a send gives up after TIMEOUT seconds in all, reads at most
    # MAX_RESPONSE_BYTES, and a claimed delivery whose worker died is sent again after LEASE.
    "WEBHOOK_SECRETS_KEY": env_secret("WEBHOOK_SECRETS_KEY"),
    "WEBHOOK_ALLOW_LOOPBACK": env_bool("WEBHOOK_ALLOW_LOOPBACK", not PRODUCTION),
    "WEBHOOK_TIMEOUT_SECONDS": env_int("WEBHOOK_TIMEOUT_SECONDS", 10),
    "WEBHOOK_MAX_RESPONSE_BYTES": env_int("WEBHOOK_MAX_RESPONSE_BYTES", 65536),
    "WEBHOOK_LEASE_SECONDS": env_int("WEBHOOK_LEASE_SECONDS", 60),
    "WEBHOOK_RETRY_BASE_SECONDS": env_int("WEBHOOK_RETRY_BASE_SECONDS", 30),
    "WEBHOOK_RETRY_MAX_SECONDS": env_int("WEBHOOK_RETRY_MAX_SECONDS", 3600),
    "WEBHOOK_RETRY_WINDOW_SECONDS": env_int("WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600),
    "WEBHOOK_DISABLE_AFTER_FAILING_DAYS": env_int("WEBHOOK_DISABLE_AFTER_FAILING_DAYS", 3),
    # Events and their finished deliveries are kept this long for the endpoint's page.
    "WEBHOOK_RETENTION_DAYS": env_int("WEBHOOK_RETENTION_DAYS", 30),
    # /metrics: per-request metrics on (off only to measure what they cost), and who may scrape:
    # a bearer secret, or client addresses (CIDRs). Production allows nobody until told.
    "METRICS_ENABLED": env_bool("METRICS_ENABLED", True),
    "METRICS_BEARER_TOKEN": env_secret("METRICS_BEARER_TOKEN"),
    "METRICS_ALLOWED_IPS": env_list(
        "METRICS_ALLOWED_IPS", [] if PRODUCTION else ["127.0.0.0/8", "::1/128"]
    ),
}

# --- Two-factor authentication (issue 16, twofactor) ----------------------------------------
# Staff need a second factor for /admin/ in production; in the embedded default only those who
# enrolled one (the demo's ops login works without).
ADMIN_REQUIRES_TWO_FACTOR = env_bool("ADMIN_REQUIRES_TWO_FACTOR", PRODUCTION)
OTP_TOTP_ISSUER = "Quaygate"
# The second step is limited per account and per address like the password step (portal.views
# .auth); django-otp's per-device backoff on top would let anyone lock a person out.
OTP_TOTP_THROTTLE_FACTOR = 0
TWO_FACTOR_GRACE_DAYS = env_int("TWO_FACTOR_GRACE_DAYS", 7)
