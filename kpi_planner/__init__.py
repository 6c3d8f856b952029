"""KPI Planner project package: settings, urls, the Celery app and the access rules."""

from kpi_planner.celery import app as celery_app

__all__ = ["celery_app"]
