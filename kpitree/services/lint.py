"""Acknowledging a design-lint finding: a manager's "we know, and here is why", which keeps the
finding shown (greyed, with the reason) but no longer open. Withdrawn, never deleted."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kpi_planner.access import can_manage
from kpi_planner.errors import Problem, ServiceError
from kpitree.models import LintAcknowledgement, Tree


@transaction.atomic
def lint_acknowledge(
    *, user: Any, tree: Tree, rule: str, node_code: str = "", subject: str = "", reason: str
) -> LintAcknowledgement:
    """Acknowledge one current finding of the tree (the rule and the node or engagement it
    names); refused when no such finding exists, without a reason, or when it is acknowledged."""
    from kpitree import queries

    if not can_manage(user):
        raise ServiceError(
            [Problem(_("Only managers may acknowledge findings."), code="forbidden")]
        )
    problems = []
    if not reason.strip():
        problems.append(Problem(_("Say why this finding may stand."), field="reason"))
    current = {(f.rule, f.node or "", f.subject): f for f in queries.tree_findings(user, tree)}
    finding = current.get((rule, node_code, subject))
    if finding is None:
        problems.append(Problem(_("The tree has no such finding now."), field="rule"))
    elif finding.acknowledged is not None:
        problems.append(
            Problem(_("This finding is acknowledged already."), field="rule", code="conflict")
        )
    if problems:
        raise ServiceError(problems)
    try:
        with transaction.atomic():
            return LintAcknowledgement.objects.create(
                tree=tree,
                rule=rule,
                node_code=node_code,
                subject=subject,
                reason=reason.strip(),
                by=user,
                at=timezone.now(),
            )
    except IntegrityError:  # the same finding acknowledged at the same moment by another request
        raise ServiceError(
            [Problem(_("This finding is acknowledged already."), field="rule", code="conflict")]
        ) from None


@transaction.atomic
def lint_withdraw(*, user: Any, acknowledgement: LintAcknowledgement) -> LintAcknowledgement:
    """Withdraw an acknowledgement: the finding counts again; the record stays."""
    if not can_manage(user):
        raise ServiceError(
            [Problem(_("Only managers may acknowledge findings."), code="forbidden")]
        )
    if acknowledgement.withdrawn_at is None:
        acknowledgement.withdrawn_at = timezone.now()
        acknowledgement.withdrawn_by = user
        acknowledgement.save(update_fields=["withdrawn_at", "withdrawn_by"])
    return acknowledgement
