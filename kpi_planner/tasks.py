"""Operational tasks of the project itself."""

from celery import shared_task
from django.db import connection
from django.utils import timezone

from engagements.models import Vendor
from kpi_planner import idempotency


@shared_task(name="kpi_planner.health_check")
def health_check() -> dict:
    """Prove a worker can reach the database: used by monitoring and the integration suite."""
    return {
        "database": connection.vendor,
        "vendors": Vendor.objects.count(),
        "at": timezone.now().isoformat(),
    }


@shared_task(name="kpi_planner.purge_idempotency_records")
def purge_idempotency_records() -> int:
    """Delete the answers kept for idempotency keys that have expired (beat, hourly)."""
    return idempotency.purge_expired()
