"""Run the web server, a Celery worker and Celery beat together; Ctrl-C stops all three."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from engagements.demo import DEMO_PASSWORD, USERS


class Command(BaseCommand):
    help = "Start web + Celery worker + Celery beat (used by `make run`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options) -> None:
        py = sys.executable
        celery = [py, "-m", "celery", "-A", "kpi_planner"]
        commands = {
            "web": [py, "manage.py", "runserver", addr, "--noreload"],
            "worker": [*celery, "worker", "-l", "info", "--concurrency", "2", "-n", "local@%h"],
            "beat": [*celery, "beat", "-l", "info"],
        }
        procs = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(self.style.SUCCESS(f"\nKPI Planner is running at http://{addr}/"))
        self.stdout.write(
            f"Database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, "
            f"broker: {settings.CELERY_BROKER_URL.split('@')[-1]}"
        )
        self.stdout.write(f"Demo accounts (password {DEMO_PASSWORD!r}, local use only):")
        for username, role, vendor, *_rest in USERS:
            self.stdout.write(f"  {username:<12} {role}{f' ({vendor})' if vendor else ''}")
        self.stdout.write("Press Ctrl-C to stop web, worker and beat.\n")

        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping.")
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.stdout.write("Stopped web, worker and beat.")
