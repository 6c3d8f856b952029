"""Qualitative commitments (共通の約束, issue 15): their writes, and the reads that put them beside
the numbers (the scorecard, the monthly report) and into the perspective scores.

Who: managers add, edit and archive an engagement's commitments and assess each month (met,
partly met, not met, with a note); the users of the engagement's vendor may self-assess a month
(kpi_planner.access.can_report), except a month whose submission is approved: it is closed for
them. The manager's assessment is the manager's: it may be made or corrected in any month up to
this one, approved or not. Every change writes a CommitmentCheckEvent (the changed fields, old
and new); nothing is deleted: a commitment no longer wanted is archived.

Scoring, the stated mapping: met = 100, partly met = 50, not met = 0. A commitment with a
perspective counts in that perspective's score as one more KPI whose achievement is the mapped
value, with the commitment's weight and a cap of 100, in the months the manager assessed it;
the vendor's self-assessment is shown, never scored. `commitment_scores` gives those rows in the
frame `scoring.score_table` takes, `commitment_kpi_rows` those `scoring.build_scorecard` takes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from engagements.models import Engagement, Submission, SubmissionStatus
from kpi_planner.access import can_manage, can_report, is_manager
from kpi_planner.errors import Problem, ServiceError
from kpi_planner.months import current_month, month_add, month_range, parse_month, period_start
from kpi_planner.numbers import parse_number
from kpitree.models import Perspective
from scorecard import scoring
from scorecard.models import (
    ASSESSMENT_SCORES,
    Assessment,
    Commitment,
    CommitmentCheck,
    CommitmentCheckEvent,
)

# The badge colour of an assessment on the pages (the scorecard's status colours).
ASSESSMENT_STATUS = {"met": "green", "partly": "amber", "not_met": "red", "": "none"}
COMMITMENT_CAP = 100.0  # the mapping's top: a commitment never scores above "met"
TEXT_MAX = 300
NOTE_MAX = 2000
FRAME_COLUMNS = [
    "engagement_id",
    "period",
    "perspective",
    "weight",
    "achievement",
    "cap",
    "status",
    "commitment_id",
]


# -- helpers ----------------------------------------------------------------------------------------


def _forbidden(message: str) -> ServiceError:
    return ServiceError([Problem(message, code="forbidden")])


def _event(
    commitment: Commitment,
    kind: str,
    changes: dict,
    user: Any,
    check: CommitmentCheck | None = None,
) -> None:
    CommitmentCheckEvent.objects.create(
        commitment=commitment,
        commitment_check=check,
        kind=kind,
        changes=changes,
        user=user,
        at=timezone.now(),
    )


def _fields(*, text: Any, perspective: Any, weight: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The commitment's cleaned fields and what is wrong with them."""
    problems: list[Problem] = []
    text = str(text or "").strip()
    if not text:
        problems.append(Problem(_("Write the commitment."), field="text"))
    elif len(text) > TEXT_MAX:
        problems.append(Problem(_("At most 300 characters."), field="text"))
    perspective = str(perspective or "")
    if perspective and perspective not in Perspective.values:
        problems.append(Problem(_("Unknown perspective."), field="perspective"))
    value = parse_number(weight) if weight is not None and str(weight).strip() != "" else 1.0
    if value is None or not math.isfinite(value) or not 0 <= value <= 100:
        problems.append(Problem(_("Enter a weight from 0 to 100."), field="weight"))
        value = None
    return {"text": text, "perspective": perspective, "weight": value}, problems


def _duplicate(engagement: Engagement, text: str, exclude: int | None = None) -> Problem | None:
    same = Commitment.objects.filter(engagement=engagement, text=text, archived_at__isnull=True)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        return Problem(_("This engagement already has this commitment."), field="text")
    return None


def _period_problem(engagement: Engagement, period: Any) -> tuple[dt.date | None, list[Problem]]:
    month = period if isinstance(period, dt.date) else parse_month(period)
    if month is None or month.day != 1:
        return None, [Problem(_("Enter the month as YYYY-MM."), field="period")]
    if not engagement.start_month <= month <= engagement.end_month:
        return month, [Problem(_("This month is outside the engagement."), field="period")]
    if month > current_month():
        return month, [Problem(_("A month can be checked once it has begun."), field="period")]
    return month, []


def _assessment_problems(assessment: Any, note: Any) -> list[Problem]:
    problems = []
    if assessment not in Assessment.values:
        problems.append(Problem(_("Choose met, partly met or not met."), field="assessment"))
    if len(str(note or "")) > NOTE_MAX:
        problems.append(Problem(_("At most 2,000 characters."), field="note"))
    return problems


def _archived_problem(commitment: Commitment) -> Problem | None:
    if commitment.archived_at is not None:
        return Problem(_("This commitment is archived."), code="conflict")
    return None


# -- commitments --------------------------------------------------------------------------------------


@transaction.atomic
def commitment_add(
    *,
    user: Any,
    engagement: Engagement,
    text: Any,
    perspective: Any = "",
    weight: Any = 1,
) -> Commitment:
    """Add a commitment to the engagement (managers), last in its order."""
    if not can_manage(user):
        raise _forbidden(_("Only managers may change an engagement's commitments."))
    data, problems = _fields(text=text, perspective=perspective, weight=weight)
    duplicate = _duplicate(engagement, data["text"]) if data["text"] else None
    if duplicate:
        problems.append(duplicate)
    if problems:
        raise ServiceError(problems)
    last = Commitment.objects.filter(engagement=engagement).order_by("-position").first()
    commitment = Commitment.objects.create(
        engagement=engagement,
        position=0 if last is None else last.position + 1,
        created_at=timezone.now(),
        created_by=user,
        **data,
    )
    _event(commitment, "added", {k: [None, v] for k, v in data.items()}, user)
    return commitment


@transaction.atomic
def commitment_edit(
    *, user: Any, commitment: Commitment, text: Any, perspective: Any, weight: Any
) -> Commitment:
    """Change a commitment's words, perspective or weight (managers); its checks stay."""
    if not can_manage(user):
        raise _forbidden(_("Only managers may change an engagement's commitments."))
    commitment = Commitment.objects.select_for_update().get(pk=commitment.pk)
    data, problems = _fields(text=text, perspective=perspective, weight=weight)
    for problem in (
        _archived_problem(commitment),
        _duplicate(commitment.engagement, data["text"], exclude=commitment.pk)
        if data["text"]
        else None,
    ):
        if problem:
            problems.append(problem)
    if problems:
        raise ServiceError(problems)
    changes = {
        k: [getattr(commitment, k), v] for k, v in data.items() if getattr(commitment, k) != v
    }
    if changes:
        for k, v in data.items():
            setattr(commitment, k, v)
        commitment.save(update_fields=list(changes))
        _event(commitment, "changed", changes, user)
        _rescore(commitment.engagement_id)
    return commitment


@transaction.atomic
def commitment_archive(*, user: Any, commitment: Commitment) -> Commitment:
    """Archive a commitment (managers): off the pages and out of the scores from now on; its
    checks and history are kept. Archiving twice changes nothing."""
    if not can_manage(user):
        raise _forbidden(_("Only managers may change an engagement's commitments."))
    commitment = Commitment.objects.select_for_update().get(pk=commitment.pk)
    if commitment.archived_at is None:
        commitment.archived_at = timezone.now()
        commitment.save(update_fields=["archived_at"])
        _event(
            commitment,
            "archived",
            {"archived_at": [None, commitment.archived_at.isoformat()]},
            user,
        )
        _rescore(commitment.engagement_id)
    return commitment


def _rescore(engagement_id: int) -> None:
    """Once the change commits, snapshot the engagement's scores again: an assessment moves
    them, and a month already reported is restated (RestatementReason.COMMITMENT_ASSESSED)."""
    from scorecard.services import snapshot_engagements  # it scores with this module

    transaction.on_commit(lambda: snapshot_engagements([engagement_id]))


# -- checks ----------------------------------------------------------------------------------------------


def _write_side(
    *,
    user: Any,
    commitment: Commitment,
    month: dt.date,
    side: str,
    assessment: str,
    note: str,
) -> CommitmentCheck:
    check, _created = CommitmentCheck.objects.select_for_update().get_or_create(
        commitment=commitment, period=month
    )
    new = {f"{side}_assessment": assessment, f"{side}_note": note}
    changes = {k: [getattr(check, k), v] for k, v in new.items() if getattr(check, k) != v}
    if not changes:
        return check
    for k, v in new.items():
        setattr(check, k, v)
    setattr(check, f"{side}_by", user)
    setattr(check, f"{side}_at", timezone.now())
    check.save()
    kind = "assessed" if side == "manager" else "self_assessed"
    _event(commitment, kind, {"period": f"{month:%Y-%m}", **changes}, user, check)
    if side == "manager":  # only the manager's assessment is scored
        _rescore(commitment.engagement_id)
    return check


@transaction.atomic
def commitment_assess(
    *, user: Any, commitment: Commitment, period: Any, assessment: Any, note: Any = ""
) -> CommitmentCheck:
    """The manager's check of a month: met, partly met or not met, with a note. Also for an
    approved month (the assessment is the manager's, not the vendor's report)."""
    if not can_manage(user):
        raise _forbidden(_("Only managers may assess a commitment."))
    commitment = Commitment.objects.select_related("engagement").get(pk=commitment.pk)
    month, problems = _period_problem(commitment.engagement, period)
    problems += _assessment_problems(assessment, note)
    archived = _archived_problem(commitment)
    if archived:
        problems.append(archived)
    if problems:
        raise ServiceError(problems)
    assert month is not None
    return _write_side(
        user=user,
        commitment=commitment,
        month=month,
        side="manager",
        assessment=str(assessment),
        note=str(note or "").strip(),
    )


def may_self_assess(user: Any, engagement: Engagement) -> bool:
    """The users of the engagement's vendor (managers assess; they do not self-assess)."""
    return can_report(user, engagement) and not is_manager(user)


@transaction.atomic
def commitment_self_assess(
    *, user: Any, commitment: Commitment, period: Any, assessment: Any, note: Any = ""
) -> CommitmentCheck:
    """The vendor's self-assessment of a month; refused once the month is approved."""
    commitment = Commitment.objects.select_related("engagement").get(pk=commitment.pk)
    engagement = commitment.engagement
    if not may_self_assess(user, engagement):
        raise _forbidden(_("Only the engagement's vendor may self-assess its commitments."))
    month, problems = _period_problem(engagement, period)
    problems += _assessment_problems(assessment, note)
    archived = _archived_problem(commitment)
    if archived:
        problems.append(archived)
    if month is not None and not problems and _approved(engagement, month):
        problems.append(
            Problem(
                _("The month is approved: its self-assessment can no longer change."),
                field="period",
                code="locked",
            )
        )
    if problems:
        raise ServiceError(problems)
    assert month is not None
    return _write_side(
        user=user,
        commitment=commitment,
        month=month,
        side="vendor",
        assessment=str(assessment),
        note=str(note or "").strip(),
    )


def _approved(engagement: Engagement, month: dt.date) -> bool:
    return Submission.objects.filter(
        engagement=engagement, period=month, status=SubmissionStatus.APPROVED
    ).exists()


def approved_months(engagement: Engagement, months: Iterable[dt.date]) -> set[dt.date]:
    return set(
        Submission.objects.filter(
            engagement=engagement, period__in=list(months), status=SubmissionStatus.APPROVED
        ).values_list("period", flat=True)
    )


# -- scoring ---------------------------------------------------------------------------------------------


def assessment_score(assessment: str) -> float | None:
    """The stated mapping: met 100, partly met 50, not met 0; not assessed: no score."""
    return ASSESSMENT_SCORES.get(assessment)


def commitment_scores(engagement_ids: Iterable[int], months: Iterable[dt.date]) -> pd.DataFrame:
    """The manager-assessed checks of these engagements' scored commitments in these months, as
    rows of the frame scoring.score_table takes: engagement_id, period, perspective, weight,
    achievement (the mapped value), cap (100), plus status (of the mapped value, default
    thresholds) and commitment_id. One query. A commitment archived after a month still counts
    in that month (its checks are history); one archived before it does not."""
    months = list(months)
    rows = (
        CommitmentCheck.objects.filter(
            commitment__engagement_id__in=list(engagement_ids),
            period__in=months,
            commitment__perspective__in=scoring.PERSPECTIVES,
        )
        .exclude(manager_assessment="")
        .values_list(
            "commitment__engagement_id",
            "period",
            "commitment__perspective",
            "commitment__weight",
            "manager_assessment",
            "commitment_id",
            "commitment__archived_at",
        )
    )
    data = []
    for engagement_id, period, perspective, weight, assessment, pk, archived_at in rows:
        if archived_at is not None and timezone.localdate(archived_at) < period:
            continue
        score = assessment_score(assessment)
        data.append(
            (
                engagement_id,
                period,
                perspective,
                float(weight),
                score,
                COMMITMENT_CAP,
                scoring.status_for(score),
                pk,
            )
        )
    frame = pd.DataFrame(data, columns=FRAME_COLUMNS)
    frame["achievement"] = frame["achievement"].astype(float)
    frame["weight"] = frame["weight"].astype(float)
    frame["cap"] = frame["cap"].astype(float)
    return frame


def commitment_period_scores(
    engagement_ids: Iterable[int],
    month: dt.date,
    grain: str = "month",
    fiscal_year_start: int = 4,
) -> pd.DataFrame:
    """commitment_scores for the month, quarter or year containing `month`: one row per
    commitment, its achievement the mean of its assessed months in the period, `period` the
    period's first month. The same columns as commitment_scores. One query."""
    start = period_start(month, grain, fiscal_year_start)
    step = {"month": 1, "quarter": 3, "year": 12}[grain]
    frame = commitment_scores(engagement_ids, month_range(start, month_add(start, step - 1)))
    if frame.empty or grain == "month":
        return frame
    means = frame.groupby("commitment_id", sort=True).agg(
        engagement_id=("engagement_id", "first"),
        perspective=("perspective", "first"),
        weight=("weight", "first"),
        achievement=("achievement", "mean"),
        cap=("cap", "first"),
    )
    means = means.reset_index()
    means["period"] = start
    means["status"] = [scoring.status_for(a) for a in means["achievement"]]
    return means[FRAME_COLUMNS]


def commitment_kpi_rows(
    engagement: Engagement, month: dt.date, grain: str = "month", fiscal_year_start: int = 4
) -> list[dict]:
    """Rows for scoring.build_scorecard, one per scored commitment assessed in the period that
    contains `month` (a quarter or a year: the mean of its assessed months). `node_id` is the
    commitment's id negated, so it never equals a KPI's; `commitment_id` (kept in the KpiScore's
    extra) tells a commitment from a KPI."""
    frame = commitment_period_scores([engagement.pk], month, grain, fiscal_year_start)
    if frame.empty:
        return []
    texts = dict(
        Commitment.objects.filter(pk__in=frame["commitment_id"].tolist()).values_list("pk", "text")
    )
    return [
        {
            "node_id": -int(row.commitment_id),
            "code": f"commitment-{row.commitment_id}",
            "name": texts.get(int(row.commitment_id), ""),
            "perspective": row.perspective,
            "weight": float(row.weight),
            "achievement": float(row.achievement),
            "status": row.status,
            "cap": COMMITMENT_CAP,
            "commitment_id": int(row.commitment_id),
            "period": row.period,
        }
        for row in frame.sort_values("commitment_id").itertuples(index=False)
    ]


# -- reads for the pages and the report ------------------------------------------------------------------


def commitments_of(engagement: Engagement, *, archived: bool = False) -> list[Commitment]:
    qs = Commitment.objects.filter(engagement=engagement, archived_at__isnull=not archived)
    return list(qs.order_by("position", "id"))


def checks_by_commitment(
    commitments: Sequence[Commitment], months: Iterable[dt.date]
) -> dict[int, dict[dt.date, CommitmentCheck]]:
    """commitment id → month → check, one query."""
    out: dict[int, dict[dt.date, CommitmentCheck]] = defaultdict(dict)
    for check in CommitmentCheck.objects.filter(
        commitment__in=[c.pk for c in commitments], period__in=list(months)
    ):
        out[check.commitment_id][check.period] = check
    return out


@dataclass
class CommitmentLine:
    """One commitment on a page: its check of the month and the last months' checks."""

    commitment: Commitment
    check: CommitmentCheck | None
    history: list[tuple[dt.date, CommitmentCheck | None]]

    @property
    def score(self) -> float | None:
        if self.check is None or not self.commitment.perspective:
            return None
        return assessment_score(self.check.manager_assessment)


def commitment_lines(
    engagement: Engagement, month: dt.date, n_months: int = 6
) -> list[CommitmentLine]:
    """The engagement's active commitments with the month's check and the `n_months` months
    ending with it (oldest first): two queries."""
    commitments = commitments_of(engagement)
    months = month_range(month_add(month, -(n_months - 1)), month)
    checks = checks_by_commitment(commitments, months)
    return [
        CommitmentLine(
            commitment=c,
            check=checks[c.pk].get(month),
            history=[(m, checks[c.pk].get(m)) for m in months],
        )
        for c in commitments
    ]


def commitment_rows(engagement: Engagement, month: dt.date) -> list[tuple[str, str, str]]:
    """The monthly report's commitments: (text, the manager's assessment, the note), the vendor's
    self-assessment added to the note when there is one. Commitments archived before the month
    are left out; those archived since still show the month's check."""
    commitments = [
        c
        for c in Commitment.objects.filter(engagement=engagement).order_by("position", "id")
        if c.archived_at is None or timezone.localdate(c.archived_at) >= month
    ]
    checks = checks_by_commitment(commitments, [month])
    labels = dict(Assessment.choices)
    rows = []
    for c in commitments:
        check = checks[c.pk].get(month)
        if check is None or not check.manager_assessment:
            label = _("Not checked")
        else:
            label = str(labels[check.manager_assessment])
        note = check.manager_note if check else ""
        if check is not None and check.vendor_assessment:
            vendor = _("Vendor's self-assessment: %(label)s") % {
                "label": labels[check.vendor_assessment]
            }
            if check.vendor_note:
                vendor = f"{vendor} ({check.vendor_note})"
            note = f"{note} / {vendor}" if note else vendor
        rows.append((c.text, label, note))
    return rows
