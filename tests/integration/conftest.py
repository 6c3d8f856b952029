"""Integration layer: the real PostgreSQL and Redis, and a real Celery worker process.

`make test-integration` points DATABASE_URL at PostgreSQL and CELERY_BROKER_URL at Redis.
When a service is unreachable the layer is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def _problem() -> str | None:
    db = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not db.startswith("postgres"):
        return "DATABASE_URL does not point at PostgreSQL (run `make test-integration`)"
    if not broker.startswith("redis"):
        return "CELERY_BROKER_URL does not point at Redis (run `make test-integration`)"
    if not _reachable(db, 5432):
        return f"PostgreSQL is not reachable at {db}"
    if not _reachable(broker, 6379):
        return f"Redis is not reachable at {broker}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.integration)
    problem = _problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.exit(f"Integration services missing under CI: {problem}", returncode=3)
    for item in items:
        item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker) -> Iterator[subprocess.Popen]:
    """A real `celery worker` on the test database, consuming from Redis."""
    import redis
    from django.db import connection

    redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).flushdb()
    settings = connection.settings_dict
    test_db_url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        f"/{settings['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": test_db_url, "DATABASE_CONN_MAX_AGE": "0"}
    log = open(ROOT / "var" / "integration-worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "kpi_planner",
            "worker",
            "-P",
            "solo",
            "-l",
            "info",
            "-n",
            f"it-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from kpi_planner.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited early; see {log.name}")
        replies = app.control.ping(timeout=1.0)
        if replies:
            break
    else:
        proc.terminate()
        raise RuntimeError(f"worker did not answer a ping within 60 s; see {log.name}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    """Poll until predicate() is truthy; return its value or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
