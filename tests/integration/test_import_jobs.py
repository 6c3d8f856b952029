"""Background actuals imports (issue 12) with two real workers on PostgreSQL and a private Redis.

Every job's task is sent twice (as a redelivery after a lost ack, or the beat sweep sending a job
again, would): each job must run exactly once, by whichever worker claims it first, and the other
delivery must do nothing. The rows end up written once and the rollups equal a full recompute.
"""

from __future__ import annotations

import re

import pytest

from kpitree.models import Actual, ImportJob
from kpitree.tasks import run_import_job
from tests.integration.conftest import Broker, wait_for
from tests.integration.test_recompute_pipeline import (
    MONTHS,
    api_client,
    assert_equals_a_full_recompute,
    cast,
    settled,
    small_tree,
    task_failures,
)

pytestmark = pytest.mark.django_db(transaction=True)

JOB_TASK = "kpitree.run_import_job"


def job_results(log: str) -> list[str]:
    """What each run of the import task returned, as the worker logs it."""
    return re.findall(rf"Task {re.escape(JOB_TASK)}\[[^\]]+\] succeeded in [\d.]+s: '(\w+)'", log)


def test_each_import_job_runs_once_when_sent_twice_to_two_workers(
    private_broker: Broker, start_worker
) -> None:
    workers = [start_worker(f"jobs-{x}", env=private_broker.env) for x in "ab"]
    engagement, vendor_user, _manager = cast("JOBS")
    shops = [f"shop{s}" for s in range(8)]
    tree, _total = small_tree("IT-JOBS", engagement, shops)
    client = api_client(vendor_user.username, "pw-vendor-123")

    # Job j writes shop j for the first six months: 8 jobs × 6 rows, none overlapping.
    ids = []
    for j, shop in enumerate(shops):
        rows = [
            {"tree": tree.code, "node": shop, "period": f"{m:%Y-%m}", "value": 100 * (j + 1) + i}
            for i, m in enumerate(MONTHS[:6])
        ]
        response = client.post("/api/v1/actuals/bulk/?async=1", rows, format="json")
        assert response.status_code == 202, response.content
        assert response["Location"] == f"/api/v1/jobs/{response.json()['id']}/"
        ids.append(response.json()["id"])
    for job_id in ids:  # the second delivery of every job
        run_import_job.delay(job_id)

    wait_for(
        lambda: ImportJob.objects.filter(pk__in=ids, status=ImportJob.Status.DONE).count() == 8,
        60,
        message="the eight jobs",
    )
    wait_for(
        lambda: sum(len(job_results(w.log())) for w in workers) == 16,
        30,
        message="both deliveries of every job",
    )
    results = sorted(r for w in workers for r in job_results(w.log()))
    assert results == ["done"] * 8 + ["skipped"] * 8

    for job_id in ids:
        body = client.get(f"/api/v1/jobs/{job_id}/").json()
        assert (body["status"], body["created"], body["updated"], body["unchanged"]) == (
            "done",
            6,
            0,
            0,
        )
    stored = dict(
        Actual.objects.filter(node__tree=tree, period=MONTHS[5]).values_list("node__code", "value")
    )
    assert stored == {shop: 100.0 * (j + 1) + 5 for j, shop in enumerate(shops)}
    assert Actual.objects.filter(node__tree=tree).count() == 48
    wait_for(lambda: settled(tree, private_broker), 60, message="the jobs' recompute")
    assert_equals_a_full_recompute(tree)
    assert task_failures(private_broker, workers) == []
