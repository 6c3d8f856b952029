"""No Docker engine runs here, so this test keeps docker-compose.yml true to the settings."""

import importlib
import re
from pathlib import Path

import pytest
import yaml

from kpi_planner.config import broker_url, check_secret_key, database_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def resolved_env(service: dict) -> dict[str, str]:
    """Substitute ${VAR:-default} / ${VAR:?msg} the way compose does, with a sample secret."""
    out = {}
    for key, value in service["environment"].items():
        value = re.sub(
            r"\$\{SECRET_KEY:\?[^}]*\}", "sample-production-secret-0123456789", str(value)
        )
        value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
        out[key] = value
    return out


def test_it_has_the_five_services(compose: dict) -> None:
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "beat"}


def test_it_wires_every_app_service_to_postgres_and_redis(compose: dict, tmp_path: Path) -> None:
    pg = compose["services"]["postgres"]["environment"]
    for name in ("web", "worker", "beat"):
        env = resolved_env(compose["services"][name])
        db = database_config(env["DATABASE_URL"])
        assert (db["HOST"], db["PORT"], db["NAME"]) == ("postgres", 5432, pg["POSTGRES_DB"])
        assert (db["USER"], db["PASSWORD"]) == (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"])
        assert broker_url(env["CELERY_BROKER_URL"], tmp_path)[0] == "redis://redis:6379/0"
        assert env["DEBUG"] == "0"
        check_secret_key(env["SECRET_KEY"], debug=False)  # would refuse the dev key
        assert env["TIME_ZONE"] == "Asia/Tokyo"
        assert set(compose["services"][name]["depends_on"]) == {"postgres", "redis"}


def test_it_runs_commands_that_exist(compose: dict) -> None:
    services = compose["services"]
    assert "gunicorn kpi_planner.wsgi:application --bind 0.0.0.0:8000" in services["web"]["command"]
    assert "manage.py migrate" in services["web"]["command"]
    assert services["web"]["ports"] == ["8000:8000"]
    assert services["worker"]["command"].startswith("celery -A kpi_planner worker")
    assert services["beat"]["command"].startswith("celery -A kpi_planner beat")
    assert importlib.import_module("kpi_planner.wsgi").application is not None
    assert importlib.import_module("kpi_planner.celery").app.main == "kpi_planner"
    assert (ROOT / "Dockerfile").read_text().startswith("# Image for web, worker and beat")
