"""Actuals bulk writes run in the background: `import_job_submit` stores the rows as an
ImportJob and queues `kpitree.run_import_job`; `import_job_run` (the task) claims the job and runs
`actuals_record`, the one write path, with the sender's rights, channel and audit.

Several workers: a job is claimed by a conditional update (queued → running), so exactly one
worker runs it; a claim older than the task's time limit (its worker died) may be taken over,
and the result is recorded only by the claim that still holds it, in the transaction of the
write, so a write and its recorded result commit together or not at all. `import_jobs_resend`
(beat) sends again the jobs whose message was lost (a broker outage at submit, a dead worker).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kpi_planner import queueing
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.limits import INTERNAL_ERROR_MESSAGE
from kpitree.models import ImportJob
from kpitree.services.common import _as_rows
from kpitree.services.values import actuals_record, check_actuals_role

logger = logging.getLogger(__name__)

# A running job whose claim is older than this has lost its worker (the task's hard time limit
# kills it before): another worker may take it over.
STALE_CLAIM = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
# A queued job not started after this is sent again (its message was lost).
RESEND_AFTER = dt.timedelta(minutes=2)


def import_job_submit(*, user, rows: Sequence[Mapping], channel: str) -> ImportJob:
    """Store `rows` (actuals, as for actuals_record) as a queued job, sent to a worker on commit.

    Refused at once, as the synchronous call would be: a role that cannot enter actuals (403),
    a body that is not a non-empty list of objects (400). Every other check runs in the job."""
    check_actuals_role(user)
    rows = _as_rows(rows)
    job = ImportJob.objects.create(
        created_by=user,
        channel=channel,
        language=translation.get_language() or "",
        payload_json=json.dumps(list(rows), ensure_ascii=False),
        rows=len(rows),
        sent_at=timezone.now(),
    )
    transaction.on_commit(lambda: _send(str(job.pk)))
    return job


def _send(job_id: str) -> bool:
    from kpitree.tasks import run_import_job

    return queueing.send(run_import_job, job_id)


class _ClaimLost(Exception):
    """Another worker took the job over: this run's write is rolled back."""


def import_job_run(*, job_id: str) -> str:
    """Run the job if this call claims it; returns its final status, or "skipped" when another
    worker has it (or it ran already)."""
    started = timezone.now()
    claimed = (
        ImportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ImportJob.Status.QUEUED)
            | Q(status=ImportJob.Status.RUNNING, started_at__lt=started - STALE_CLAIM)
        )
        .update(status=ImportJob.Status.RUNNING, started_at=started)
    )
    if not claimed:
        return "skipped"
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        try:
            return _run(job, started)
        except _ClaimLost:
            return "skipped"


def _run(job: ImportJob, started: dt.datetime) -> str:
    try:
        with transaction.atomic():
            if job.created_by is None:
                raise ServiceError(
                    [Problem(_("The user who sent these rows no longer exists."), code="forbidden")]
                )
            result = actuals_record(user=job.created_by, rows=job.payload, channel=job.channel)
            _finish(job, started, status=ImportJob.Status.DONE, **result.as_dict())
        return ImportJob.Status.DONE
    except ServiceError as exc:
        errors = [p.as_dict() for p in exc.problems]
        status = exc.status
    except _ClaimLost:
        raise
    except Exception:
        logger.exception("import job %s failed", job.pk)
        errors, status = [Problem(str(INTERNAL_ERROR_MESSAGE)).as_dict()], 500
    _finish(
        job,
        started,
        status=ImportJob.Status.FAILED,
        errors_json=json.dumps(errors, ensure_ascii=False),
        error_status=status,
    )
    return ImportJob.Status.FAILED


def _finish(job: ImportJob, started: dt.datetime, **fields: Any) -> None:
    """Record the result, only if this run's claim still holds (else _ClaimLost)."""
    now = timezone.now()
    done = ImportJob.objects.filter(
        pk=job.pk, status=ImportJob.Status.RUNNING, started_at=started
    ).update(payload_json="", finished_at=now, updated_at=now, **fields)
    if not done:
        raise _ClaimLost


def import_jobs_resend() -> list[str]:
    """Beat sweep: send again the jobs queued, or running with a dead worker, since their last
    send RESEND_AFTER ago. Each is marked sent (a conditional update) before it is sent, so a
    second sweep at the same moment sends nothing; a job sent twice runs once (the claim)."""
    now = timezone.now()
    due = Q(sent_at__lt=now - RESEND_AFTER) & (
        Q(status=ImportJob.Status.QUEUED)
        | Q(status=ImportJob.Status.RUNNING, started_at__lt=now - STALE_CLAIM)
    )
    sent = []
    for pk in ImportJob.objects.filter(due).values_list("pk", flat=True):
        if ImportJob.objects.filter(due, pk=pk).update(sent_at=now):
            _send(str(pk))
            sent.append(str(pk))
    return sent
