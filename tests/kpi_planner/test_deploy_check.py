"""`manage.py check --deploy` is clean under production settings (DEBUG=0, a real SECRET_KEY,
ALLOWED_HOSTS), and the production defaults are what README "Operating in production" says.
Each runs the settings in a fresh process, from the environment, as gunicorn would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "x7Kq9-Lm2Pz8Rt4Vw6Yb1Nc3Hd5Jf0Gs-Ue7Ia2Ko9Qx4Wl8Zr6Tv3Bn1Mp5Cy0Dh"  # 66 chars


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SECURE_", "DATABASE_", "CELERY_", "SECRET_", "DEBUG"))
    }
    base.update(
        DJANGO_SETTINGS_MODULE="kpi_planner.settings",
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="kpi.example.jp",
        CSRF_TRUSTED_ORIGINS="https://kpi.example.jp",
        VAR_DIR=str(tmp_path),
        STATIC_ROOT=str(tmp_path / "static"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_check_is_clean_under_production_settings(tmp_path: Path) -> None:
    result = run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_the_deploy_check_warns_when_https_is_turned_off(tmp_path: Path) -> None:
    result = run(["check", "--deploy"], tmp_path, SECURE_SSL_REDIRECT="0")
    assert result.returncode == 0
    codes = sorted(
        line.split("(")[1].split(")")[0]
        for line in result.stderr.splitlines()
        if line.startswith("?: (security.")
    )
    assert codes == ["security.W004", "security.W008"]


SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({k: getattr(s, k) for k in "
    "['SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', "
    "'SECURE_HSTS_PRELOAD', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
    "'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_HTTPONLY', 'X_FRAME_OPTIONS', "
    "'SECURE_CONTENT_TYPE_NOSNIFF', 'SECURE_REFERRER_POLICY', "
    "'SECURE_CROSS_ORIGIN_OPENER_POLICY', 'SECURE_PROXY_SSL_HEADER']}))"
)


def test_the_production_defaults_and_their_variables(tmp_path: Path) -> None:
    defaults = run(["shell", "-c", SHOW], tmp_path)
    assert defaults.returncode == 0, defaults.stderr
    assert json.loads(defaults.stdout.splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin",
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    changed = run(
        ["shell", "-c", SHOW],
        tmp_path,
        SECURE_SSL_REDIRECT="0",
        SECURE_HSTS_SECONDS="3600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="0",
        SECURE_HSTS_PRELOAD="0",
    )
    assert changed.returncode == 0, changed.stderr
    values = json.loads(changed.stdout.splitlines()[-1])
    assert [values[k] for k in list(values)[:4]] == [False, 3600, False, False]
