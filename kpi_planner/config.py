"""Tiny helpers that read settings from the environment and fail with a clear sentence.

Kept apart from settings.py so that the rules (what a bad value is, what the message says) can be
tested without reloading the settings module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from dj_database_url import DBConfig

DEV_SECRET_KEY = "dev-only-insecure-key-change-me"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
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
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]


def database_config(url: str, *, conn_max_age: int = 60) -> DBConfig:
    """Turn DATABASE_URL into Django's DATABASES["default"], refusing what we do not support."""
    import dj_database_url

    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} is not understood: use sqlite:///path/to/file.sqlite3 or "
            "postgres://user:password@host:5432/dbname."
        )
    try:
        config = dj_database_url.parse(url, conn_max_age=conn_max_age)
    except Exception as exc:  # dj-database-url raises plain ValueErrors with terse text
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is malformed: {exc}") from None
    if scheme != "sqlite" and not config.get("NAME"):
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} names no database: add it after the host, e.g. /kpi_planner."
        )
    if scheme == "sqlite":
        config["CONN_MAX_AGE"] = 0
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL + IMMEDIATE let the web process, the worker and beat share one SQLite file
        # without "database is locked" errors under normal local use.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    return config


def check_secret_key(secret_key: str, *, debug: bool) -> None:
    if not debug and secret_key in {"", DEV_SECRET_KEY}:
        raise ImproperlyConfigured(
            "SECRET_KEY is the development key (or empty) while DEBUG is off. Set SECRET_KEY to a "
            "long random value, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )


def broker_url(raw: str, var_dir: Path) -> tuple[str, dict]:
    """The Celery broker: Redis when configured, else a folder queue that needs no server."""
    if not raw or raw.startswith("filesystem://"):
        queue = var_dir / "celery" / "queue"
        processed = var_dir / "celery" / "processed"
        # kombu's default control folder is ./control, relative to wherever a process starts.
        control = var_dir / "celery" / "control"
        for folder in (queue, processed, control):
            folder.mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "control_folder": str(control),
            "processed_folder": str(processed),
            "store_processed": False,
        }
        return "filesystem://", options
    if not raw.startswith(("redis://", "rediss://", "amqp://")):
        raise ImproperlyConfigured(
            f"CELERY_BROKER_URL={raw!r} is not understood: use redis://host:6379/0, or leave it "
            "unset for the local folder queue."
        )
    # Redis redelivers a task whose worker died only after the visibility timeout (kombu's
    # default: one hour). Sized to the longest task (CELERY_TASK_TIME_LIMIT, 10 min) plus a
    # margin, so a task is never delivered twice while it runs; the recompute sweep repairs a
    # tree within a minute anyway.
    if raw.startswith(("redis://", "rediss://")):
        return raw, {"visibility_timeout": 11 * 60}
    return raw, {}
