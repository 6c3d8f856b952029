import pytest
from django.db import connection

from engagements.models import Vendor
from kpi_planner.tasks import health_check


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_in_a_real_worker_through_redis(celery_worker_process) -> None:
    assert connection.vendor == "postgresql"
    Vendor.objects.create(code="callnavi", name="株式会社コールナビ")
    result = health_check.delay()
    reply = result.get(timeout=30)
    # The worker is another process: it read the row this test committed to PostgreSQL.
    assert reply["database"] == "postgresql"
    assert reply["vendors"] == 1
    assert celery_worker_process.poll() is None
