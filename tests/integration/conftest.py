"""Integration layer: the real PostgreSQL and Redis, and a real Celery worker process.

`make test-integration` points DATABASE_URL at PostgreSQL and CELERY_BROKER_URL at Redis.
When a service is unreachable the layer is skipped locally and fails under CI=true.
"""

from __future__ import annotations

import base64
import contextlib
import email
import email.message
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
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


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Poll until predicate() is truthy; return its value or fail with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s" + (f": {message}" if message else ""))


# -- processes of the pipeline tests: workers, beat, a private Redis, an SMTP sink ---------------
# The recompute pipeline tests (test_recompute_pipeline.py) run their own Redis server on a free
# port, so that stopping it never touches the machine's shared Redis, and so that no other
# worker (the session worker above, or another session's) consumes their tasks.


def child_database_url() -> str:
    """The URL of the test database (the one pytest-django created), for child processes."""
    from django.db import connection

    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    """A child process started in its own process group (so that signals reach its children)."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    app_name: str
    _log: IO = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def send_signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def pause(self) -> None:
        self.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown, no ack, no cleanup."""
        self.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=20)
        self._log.close()

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM; resumed first if paused), SIGKILL if it does not end."""
        if self.alive():
            self.resume()
            self.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self.popen.wait(timeout=20)
        else:
            self.send_signal(signal.SIGKILL)  # children left behind by a dead leader, if any
        self._log.close()

    def wait_for_log(self, pattern: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log(), re.MULTILINE):
                return
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited ({self.popen.returncode}); see {self.log_path}"
                )
            time.sleep(0.1)
        raise RuntimeError(f"{self.name}: no {pattern!r} within {timeout} s; see {self.log_path}")


class _Spawner:
    """Starts celery processes on the test database; every one of them is ended at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Proc] = []

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None) -> Proc:
        app_name = f"it-{name}"
        full_env = {
            **os.environ,
            "DATABASE_URL": child_database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            # psycopg (libpq) sends it as application_name: pg_stat_activity tells whose
            # backend holds a lock.
            "PGAPPNAME": app_name,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        count = sum(1 for p in self.procs if p.name == name)
        log_path = self.log_dir / (f"{name}.log" if not count else f"{name}.{count + 1}.log")
        log = open(log_path, "w")  # noqa: SIM115 - closed by Proc.stop/kill
        popen = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "kpi_planner", *argv],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name=name, popen=popen, log_path=log_path, app_name=app_name, _log=log)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if not proc._log.closed or proc.alive():
                proc.stop()


@pytest.fixture
def process_log_dir(request: pytest.FixtureRequest) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:100]
    path = ROOT / "var" / "integration" / safe
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def _spawner(transactional_db, process_log_dir: Path) -> Iterator[_Spawner]:
    # Depends on transactional_db so that the processes end before the database is flushed.
    spawner = _Spawner(process_log_dir)
    try:
        yield spawner
    finally:
        spawner.close()


@pytest.fixture
def start_worker(_spawner: _Spawner) -> Callable[..., Proc]:
    """start_worker(name, env=...) → a `celery worker -P solo` named `name@host`, whose database
    sessions carry application_name `it-<name>`; it has said "ready" when this returns."""

    def start(name: str, env: Mapping[str, str] | None = None, wait: bool = True) -> Proc:
        argv = ["worker", "-P", "solo", "-l", "info", "-n", f"{name}@%h"]
        proc = _spawner.spawn(name, [*argv, "--without-gossip", "--without-mingle"], env)
        if wait:
            proc.wait_for_log(rf"{re.escape(name)}@\S+ ready\.")
        return proc

    return start


@pytest.fixture
def start_beat(_spawner: _Spawner) -> Callable[..., Proc]:
    """start_beat(env=...) → a real `celery beat` with the schedule of settings
    (CELERY_BEAT_SCHEDULE), kept in a file of this test (PersistentScheduler) rather than in the
    database, so that nothing of it outlives the test."""

    def start(env: Mapping[str, str] | None = None, wait: bool = True) -> Proc:
        d = _spawner.log_dir
        argv = [
            "beat",
            "-l",
            "info",
            "-S",
            "celery.beat:PersistentScheduler",
            "-s",
            str(d / "celerybeat-schedule"),
            "--pidfile",
            str(d / "beat.pid"),
        ]
        proc = _spawner.spawn("beat", argv, env)
        if wait:
            proc.wait_for_log(r"beat: Starting")
        return proc

    return start


class RedisServer:
    """A private redis-server on a free port; stop() and start() again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.popen: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=5)

    def running(self) -> bool:
        return _reachable(self.url(), self.port)

    def start(self) -> None:
        log = self.dir / "redis.log"
        self.popen = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}; see {log}")

    def stop(self) -> None:
        """`redis-cli shutdown nosave`: everything in it is lost, like a crashed server."""
        if self.popen is None:
            return
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.popen = None


@dataclass
class Broker:
    """The private Redis as the Celery broker (db 0) and, unless `results` is False, the result
    backend (db 1) of this process and of every process started with `env`."""

    redis: RedisServer
    results_kept: bool = True
    queue: str = "celery"

    @property
    def env(self) -> dict[str, str]:
        backend = self.redis.url(1) if self.results_kept else ""
        return {"CELERY_BROKER_URL": self.redis.url(0), "CELERY_RESULT_BACKEND": backend}

    def queued(self) -> list[tuple[str, list]]:
        """(task name, args) of every message waiting in the queue (not yet delivered)."""
        out = []
        for raw in self.redis.client(0).lrange(self.queue, 0, -1):
            message = json.loads(raw)
            body = message["body"]
            if message.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            args = json.loads(body)[0]
            out.append((message["headers"]["task"], args))
        return out

    @contextlib.contextmanager
    def sampling(self, task: str, args: list) -> Iterator[dict]:
        """Sample the queue as fast as a separate process can (LRANGE in a loop, so that this
        process's threads do not slow it down) while the block runs; the dict yielded is then
        filled in: samples, max_queued (messages of `task` with `args`), max_total."""
        code = (
            "import base64, json, select, sys, redis\n"
            "r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), db=0)\n"
            "task, args = sys.argv[2], json.loads(sys.argv[3])\n"
            "out = {'samples': 0, 'max_queued': 0, 'max_total': 0}\n"
            "print('ready', flush=True)\n"
            "while not select.select([sys.stdin], [], [], 0)[0]:\n"
            "    raw = r.lrange(sys.argv[4], 0, -1)\n"
            "    mine = 0\n"
            "    for m in map(json.loads, raw):\n"
            "        body = json.loads(base64.b64decode(m['body']))\n"
            "        mine += m['headers']['task'] == task and body[0] == args\n"
            "    out['samples'] += 1\n"
            "    out['max_queued'] = max(out['max_queued'], mine)\n"
            "    out['max_total'] = max(out['max_total'], len(raw))\n"
            "print(json.dumps(out), flush=True)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.redis.port), task, json.dumps(args), self.queue],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        result: dict = {}
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            yield result
        finally:
            out, _err = proc.communicate(input="stop\n", timeout=30)
            result.update(json.loads(out.strip().splitlines()[-1]))

    def results(self) -> list[dict]:
        """Every task result stored by the workers (status SUCCESS, FAILURE, ...)."""
        if not self.results_kept:
            return []
        client = self.redis.client(1)
        keys = list(client.scan_iter("celery-task-meta-*"))
        return [json.loads(v) for v in client.mget(keys) if v] if keys else []


def _point_celery_at(broker_url: str | None, backend_url: str | None) -> None:
    """Point this process's Celery app (the one the web code sends with) at other servers.

    Celery reads CELERY_BROKER_URL / CELERY_RESULT_BACKEND from the environment before its
    configuration, so both are changed; the cached connection pools and backends are dropped.
    """
    import threading

    from kombu import pools

    from kpi_planner.celery import app

    for key, value in (("CELERY_BROKER_URL", broker_url), ("CELERY_RESULT_BACKEND", backend_url)):
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    app.conf.update(broker_url=broker_url, result_backend=backend_url)
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    pools.reset()
    app._backend_cache = None
    app._local = threading.local()


@pytest.fixture
def private_redis(process_log_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(process_log_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_broker(request: pytest.FixtureRequest, private_redis: RedisServer) -> Iterator[Broker]:
    """The test process, and every process started with `broker.env`, use the private Redis.

    Results are kept in it (db 1), as `make test-integration` keeps them in the shared Redis;
    parametrize indirectly with False for no result backend (the docker-compose setting)."""
    from kpi_planner.celery import app

    saved = (
        os.environ.get("CELERY_BROKER_URL"),
        os.environ.get("CELERY_RESULT_BACKEND"),
        app.conf.task_ignore_result,
    )
    broker = Broker(private_redis, results_kept=getattr(request, "param", True))
    _point_celery_at(broker.env["CELERY_BROKER_URL"], broker.env["CELERY_RESULT_BACKEND"] or None)
    # As settings do (CELERY_TASK_IGNORE_RESULT): results are ignored when there is no backend.
    # A task copies the setting when it is first bound, so it is set on each task as well,
    # except those that declare ignore_result themselves (the tasks sent from requests).
    ignore = not broker.results_kept
    app.conf.task_ignore_result = ignore
    tasks = [
        t
        for t in app.tasks.values()
        if "ignore_result" not in vars(t) and "ignore_result" not in vars(type(t))
    ]
    for task in tasks:
        task.ignore_result = ignore
    try:
        yield broker
    finally:
        for task in tasks:
            del task.ignore_result
        _point_celery_at(saved[0], saved[1])
        app.conf.task_ignore_result = saved[2]


# -- an SMTP server that keeps what it receives --------------------------------------------------
# (The file e-mail backend would need EMAIL_FILE_PATH, which settings do not read from the
# environment; the workers send real SMTP to this sink instead: EMAIL_HOST/EMAIL_PORT.)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: email.message.Message


class _SmtpHandler(socketserver.StreamRequestHandler):
    def _reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self._reply("220 it-sink ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode("ascii", "replace").strip()
            verb = command[:4].upper()
            if verb in {"EHLO", "HELO"}:
                self._reply("250 it-sink")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(), []
                self._reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while (chunk := self.rfile.readline()) and chunk not in (b".\r\n", b".\n"):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                message = email.message_from_bytes(b"".join(data))
                self.server.mails.append(Mail(sender, recipients, message))  # type: ignore[attr-defined]
                self._reply("250 OK")
            elif verb in {"RSET", "NOOP"}:
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 Bye")
                return
            else:
                self._reply("502 Not implemented")


class SmtpSink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.mails: list[Mail] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process whose Django e-mails go to this sink."""
        return {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        }


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    import threading

    sink = SmtpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()
