import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from kpi_planner.config import DEV_SECRET_KEY, broker_url, check_secret_key, database_config

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_parses_a_postgres_url() -> None:
    cfg = database_config("postgres://kpi:secret@db.example:5433/kpi_planner")
    assert (cfg["ENGINE"], cfg["NAME"], cfg["HOST"], cfg["PORT"], cfg["USER"]) == (
        "django.db.backends.postgresql",
        "kpi_planner",
        "db.example",
        5433,
        "kpi",
    )


def test_it_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ImproperlyConfigured, match="is not understood"):
        database_config("mysql//oops")


def test_it_refuses_a_postgres_url_without_database_name() -> None:
    with pytest.raises(ImproperlyConfigured, match="names no database"):
        database_config("postgres://kpi@localhost:5432")


def test_it_refuses_the_dev_secret_key_without_debug() -> None:
    with pytest.raises(ImproperlyConfigured, match="development key"):
        check_secret_key(DEV_SECRET_KEY, debug=False)
    check_secret_key(DEV_SECRET_KEY, debug=True)  # fine for local use
    check_secret_key("a-real-long-random-value", debug=False)


def test_it_uses_a_folder_queue_when_no_broker_is_set(tmp_path: Path) -> None:
    url, options = broker_url("", tmp_path)
    assert url == "filesystem://"
    assert (
        options["data_folder_in"]
        == options["data_folder_out"]
        == str(tmp_path / "celery" / "queue")
    )
    assert (tmp_path / "celery" / "queue").is_dir()
    # The control folder (pidbox exchanges) lives under var/ too, not in the working directory.
    assert options["control_folder"] == str(tmp_path / "celery" / "control")
    # Redis redelivers a dead worker's task after 11 minutes, not kombu's default hour.
    assert broker_url("redis://127.0.0.1:6379/0", tmp_path) == (
        "redis://127.0.0.1:6379/0",
        {"visibility_timeout": 660},
    )
    with pytest.raises(ImproperlyConfigured, match="CELERY_BROKER_URL"):
        broker_url("kafka://x", tmp_path)


def test_it_explains_a_malformed_database_url_without_a_traceback() -> None:
    result = run_manage("check", DATABASE_URL="postgres//missing-colon")
    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: DATABASE_URL='postgres//missing-colon'")
    assert "Traceback" not in result.stderr


def test_it_refuses_a_production_run_with_the_dev_key() -> None:
    result = run_manage("check", DEBUG="0", SECRET_KEY=DEV_SECRET_KEY)
    assert result.returncode == 2
    assert "SECRET_KEY is the development key" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_explains_a_bad_boolean() -> None:
    result = run_manage("check", DEBUG="maybe")
    assert result.returncode == 2
    assert "DEBUG='maybe' is not a boolean" in result.stderr
