"""Settings come from the environment, with an embedded default when it is silent."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings
from portal.celery import app
print(json.dumps({
    "db": settings.DATABASES["default"]["ENGINE"],
    "db_name": settings.DATABASES["default"]["NAME"],
    "journal": settings.DATABASES["default"].get("OPTIONS", {}).get("init_command", ""),
    "cache": settings.CACHES["default"]["BACKEND"],
    "broker": app.conf.broker_url.split("://")[0],
    "mailer": settings.MAILERS["default"]["BACKEND"],
    "hashers": settings.PASSWORD_HASHERS[0],
    "debug": settings.DEBUG,
}))
"""
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_HOST",
    "QUAYGATE_ENV",
    "SECRET_KEY",
    "TOKEN_HASH_KEY",
    "ALLOWED_HOSTS",
    "DEBUG",
)


def probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    clean |= {"DJANGO_SETTINGS_MODULE": "portal.settings", "QUAYGATE_VAR_DIR": str(tmp_path)} | env
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_with_no_environment_it_runs_on_sqlite_locmem_and_a_serverless_broker(tmp_path):
    result = probe(tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["db"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(tmp_path / "quaygate.sqlite3")
    assert "journal_mode=WAL" in seen["journal"]
    assert seen["cache"].endswith("LocMemCache")
    assert seen["broker"] == "filesystem"
    assert seen["mailer"].endswith("filebased.EmailBackend")
    assert seen["hashers"].endswith("Argon2PasswordHasher")
    assert seen["debug"] is False
    assert (tmp_path / "secret_key.secret").exists(), (
        "the embedded default keeps a generated key in var/"
    )


def test_with_database_and_redis_urls_it_runs_on_postgresql_and_redis(tmp_path):
    result = probe(
        tmp_path,
        DATABASE_URL="postgresql://quay:s%40crt@db.internal:6543/quaygate",
        REDIS_URL="redis://cache.internal:6379/0",
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["db"] == "core.postgresql"  # Django's, with a health check of our own
    assert seen["db_name"] == "quaygate"
    assert seen["cache"].endswith("RedisCache")
    assert seen["broker"] == "redis"


def test_with_an_smtp_host_emails_go_over_smtp(tmp_path):
    seen = json.loads(probe(tmp_path, EMAIL_HOST="smtp.internal", EMAIL_PORT="2525").stdout)
    assert seen["mailer"].endswith("smtp.EmailBackend")


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "TOKEN_HASH_KEY", "ALLOWED_HOSTS", "DATABASE_URL"]
)
def test_production_refuses_to_start_without_its_required_settings(tmp_path, missing):
    env = {
        "QUAYGATE_ENV": "production",
        "SECRET_KEY": "s" * 50,
        "TOKEN_HASH_KEY": "t" * 50,
        "ALLOWED_HOSTS": "quaygate.example",
        "DATABASE_URL": "postgresql://quay@db.internal/quaygate",
        "EMAIL_HOST": "smtp.internal",
    }
    del env[missing]
    result = probe(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_production_refuses_debug(tmp_path):
    result = probe(
        tmp_path,
        QUAYGATE_ENV="production",
        DEBUG="1",
        SECRET_KEY="s" * 50,
        TOKEN_HASH_KEY="t" * 50,
        ALLOWED_HOSTS="q.example",
        DATABASE_URL="postgresql://q@db/q",
    )
    assert result.returncode != 0 and "DEBUG must be off" in result.stderr


def test_a_bad_boolean_fails_loudly(tmp_path):
    result = probe(tmp_path, DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("f" * 50 + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.TOKEN_HASH_KEY)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
        | {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "QUAYGATE_VAR_DIR": str(tmp_path),
            "TOKEN_HASH_KEY_FILE": str(secret_file),
        },
    )
    assert result.stdout.strip() == "f" * 50
