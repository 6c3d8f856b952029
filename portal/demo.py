"""The demo's submission history, walked through the real portal workflow."""

from __future__ import annotations

import datetime as dt

from engagements.models import Engagement, Submission, SubmissionStatus, User
from portal.services import workflow

# Submission history of the demo: months approved up to September, October in different states
# so that the portal and the manager's queue show every step.
SUBMISSIONS = {
    # engagement: (submitting user, approved months, October's state, reason when returned)
    "CALL-2026": ("vendor", [dt.date(2026, m, 1) for m in range(4, 10)], "submitted", ""),
    "ADS-2026": (
        "vendor_ads",
        [dt.date(2026, m, 1) for m in range(4, 10)],
        "returned",
        "CPAの算出に使った広告費の内訳を添えてください。",
    ),
    "SEO-2026": ("manager", [dt.date(2026, m, 1) for m in range(7, 10)], "draft", ""),
}


def seed_submissions() -> int:
    """Walk the demo months through the real workflow (idempotent: settled months are skipped)."""
    manager = User.objects.get(username="manager")
    steps = 0
    for code, (submitter, approved, october, reason) in SUBMISSIONS.items():
        engagement = Engagement.objects.get(code=code)
        vendor_user = User.objects.get(username=submitter)
        status = {s.period: s.status for s in Submission.objects.filter(engagement=engagement)}
        for period in approved:
            if status.get(period) == SubmissionStatus.APPROVED:
                continue
            if status.get(period) != SubmissionStatus.SUBMITTED:
                workflow.submission_submit(user=vendor_user, engagement=engagement, period=period)
            workflow.submission_approve(user=manager, engagement=engagement, period=period)
            steps += 1
        oct_ = dt.date(2026, 10, 1)
        if october != "draft" and status.get(oct_) in (
            None,
            SubmissionStatus.DRAFT,
            SubmissionStatus.NOT_STARTED,
        ):
            workflow.submission_submit(user=vendor_user, engagement=engagement, period=oct_)
            if october == "returned":
                workflow.submission_return(
                    user=manager, engagement=engagement, period=oct_, reason=reason
                )
            steps += 1
    return steps
