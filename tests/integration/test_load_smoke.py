"""bench/bench_load.py end to end, briefly: gunicorn, a Celery worker, real PostgreSQL and Redis,
two clients for a few seconds. It checks that every kind of request ran and none failed (the
figures themselves are the bench's business, not a test's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[2]
KINDS = {"overview", "scorecard", "rollup", "write"}


def smoke_broker() -> str:
    parsed = urlparse(os.environ["CELERY_BROKER_URL"])
    return f"redis://{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}/13"


def test_the_load_bench_runs_every_kind_without_an_error(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_load.py"),
            "--scale",
            "smoke",
            "--clients",
            "2",
            "--seconds",
            "3",
            "--floor-seconds",
            "1",
            "--no-profile",
            "--db",
            "kpi_bench_load_smoke",
            # Not the layer's own Redis database (its worker would take the bench's tasks), nor
            # the full bench's (db 14), which may be running.
            "--broker",
            smoke_broker(),
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(out.read_text())["levels"]["2"]
    mix = figures["mix"]
    assert set(mix) >= KINDS, mix
    assert all(mix[kind]["requests"] > 0 for kind in KINDS), mix
    assert mix["all"]["errors"] == 0
    assert figures["floor"]["requests"] > 0
    assert figures["floor"]["errors"] == 0
