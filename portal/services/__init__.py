"""Vendor portal writes: monthly entry, the submission workflow and improvement proposals.

Every actual still goes through `kpitree.services.actuals_record` (validation, the lock of an
approved month, the audit, the recompute); this package adds what a month needs around it:
the Submission row and its history (SubmissionEvent), the status of the month's Actual rows,
the automatic Learning & growth values fed by proposals, and the notices to the people involved.

- `entry`: the typed cells of a month (Entry) and saving them (month_save).
- `workflow`: the month's steps (submit, withdraw, approve, return, reopen) and after_write.
- `proposals`: improvement proposals and the figures they feed into the month.
- `comments`: joining/splitting an actual's comment (why + next action).
- `errors`: WorkflowError, a refused step.

The reads shared by the portal pages and the API (month statuses, submission rows, ...) are in
portal.queries. The names below are re-exported so that `portal.services.X` keeps working for
the callers outside the portal app; code inside portal/ imports from the modules themselves.
"""

from __future__ import annotations

# current_month / month_add were reachable as portal.services.* before the split (imported from
# kpi_planner.months) and a caller still imports them from here.
from kpi_planner.months import current_month, month_add
from portal.queries import (
    DONE,
    OPEN,
    Outstanding,
    changes_since_submission,
    due_date,
    engagement_months,
    first_submitted_at,
    in_plan,
    is_typed,
    missing_inputs,
    month_of_engagement,
    month_statuses,
    outstanding_months,
    portal_nodes,
    proposal_figures,
    reporting_month,
    status_of,
    submission_row,
    submission_rows,
)
from portal.services.comments import NEXT_ACTION_MARK, join_comment, split_comment
from portal.services.entry import Entry, month_save
from portal.services.errors import WorkflowError
from portal.services.proposals import proposal_decide, proposal_feed, proposal_submit
from portal.services.workflow import (
    MAX_REASON,
    after_write,
    submission_approve,
    submission_reopen,
    submission_return,
    submission_step,
    submission_submit,
    submission_withdraw,
)

__all__ = [
    "DONE",
    "MAX_REASON",
    "NEXT_ACTION_MARK",
    "OPEN",
    "Entry",
    "Outstanding",
    "WorkflowError",
    "after_write",
    "changes_since_submission",
    "current_month",
    "due_date",
    "engagement_months",
    "first_submitted_at",
    "in_plan",
    "is_typed",
    "join_comment",
    "missing_inputs",
    "month_add",
    "month_of_engagement",
    "month_save",
    "month_statuses",
    "outstanding_months",
    "portal_nodes",
    "proposal_decide",
    "proposal_feed",
    "proposal_figures",
    "proposal_submit",
    "reporting_month",
    "split_comment",
    "status_of",
    "submission_approve",
    "submission_reopen",
    "submission_return",
    "submission_row",
    "submission_rows",
    "submission_step",
    "submission_submit",
    "submission_withdraw",
]
