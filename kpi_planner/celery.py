"""The Celery app. Workers and beat read their settings from Django's (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpi_planner.settings")

app = Celery("kpi_planner")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
