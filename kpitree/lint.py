"""Design lint: the pitfalls of DOMAIN.md ("落とし穴") found in a KPI tree.

`lint_tree(tree, nodes, targets, actuals, today)` is pure (no database): it takes plain rows so it
can be tested with small lists; `kpitree.api.tree_lint` loads them in a fixed number of queries.
Rule ids are stable (API.md "Lint"); messages are in the caller's language.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

TOO_MANY = 10  # "10 or more KPIs for one scope dilutes focus"
FAR = 0.30  # a target more than ±30 % from its benchmark or recent actuals is flagged
HISTORY_MONTHS = 3
CADENCE_DAYS = {"monthly": 31, "quarterly": 92, "yearly": 366}
RISK_WORDS = ("リスク", "仕様変更", "変更", "risk", "change")
PERSPECTIVES = ("financial", "customer", "process", "learning")


@dataclass(frozen=True)
class LintNode:
    code: str
    name: str
    kind: str = "kpi"
    parent: str | None = None
    engagement: str | None = None
    owner: str = ""
    definition: str = ""
    perspective: str = ""
    result_type: str = ""
    rollup: str = "input"
    formula_names: frozenset[str] = field(default_factory=frozenset)
    benchmark: float | None = None
    review_cadence: str = "quarterly"  # the node's own, else its engagement's, else quarterly
    reviewed_at: dt.date | None = None  # last change of the node's definition
    template_code: str = ""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | info
    node: str | None
    message: str

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "node": self.node,
            "message": self.message,
        }


def lint_tree(
    nodes: list[LintNode],
    targets: Iterable[tuple[str, dt.date, float, str]],  # node, month, value, rationale
    actuals: Iterable[tuple[str, dt.date, float]],  # node, month, value
    *,
    today: dt.date,
) -> list[Finding]:
    out: list[Finding] = []
    by_code = {n.code: n for n in nodes}
    kpis = [n for n in nodes if n.kind == "kpi"]
    children: dict[str | None, list[LintNode]] = defaultdict(list)
    for n in nodes:
        children[n.parent].append(n)
    targets_of: dict[str, list[tuple[dt.date, float, str]]] = defaultdict(list)
    for code, month, value, rationale in targets:
        targets_of[code].append((month, value, rationale))
    actuals_of: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
    for code, month, value in actuals:
        actuals_of[code].append((month, value))

    # 1. Too many KPIs for one scope: per engagement and under one parent.
    per_engagement: dict[str, int] = defaultdict(int)
    for n in kpis:
        if n.engagement:
            per_engagement[n.engagement] += 1
    for engagement, count in sorted(per_engagement.items()):
        if count >= TOO_MANY:
            out.append(
                Finding(
                    "too-many-kpis",
                    "warning",
                    None,
                    _(
                        "Engagement %(engagement)s owns %(count)d KPIs; keep a few core ones and layer the rest."
                    )
                    % {"engagement": engagement, "count": count},
                )
            )
    for parent, kids in children.items():
        if parent is not None and len(kids) >= TOO_MANY:
            out.append(
                Finding(
                    "too-many-kpis",
                    "warning",
                    parent,
                    _("%(count)d KPIs directly under one node dilute focus.")
                    % {"count": len(kids)},
                )
            )

    # 2. KPIs that do not lead to the KGI.
    for n in kpis:
        if n.parent is None:
            out.append(
                Finding(
                    "orphan-kpi",
                    "warning",
                    n.code,
                    _("“%(name)s” is not connected to any KGI.") % {"name": n.name},
                )
            )
        else:
            parent = by_code.get(n.parent)
            if (
                parent
                and parent.rollup == "formula"
                and parent.formula_names
                and n.code not in parent.formula_names
            ):
                out.append(
                    Finding(
                        "orphan-kpi",
                        "info",
                        n.code,
                        _(
                            "“%(name)s” is not used in the formula of its parent, so it does not drive it."
                        )
                        % {"name": n.name},
                    )
                )

    # 3./4. Per engagement: outputs only, or a single KPI.
    scopes: dict[str, list[LintNode]] = defaultdict(list)
    for n in kpis:
        if n.engagement:
            scopes[n.engagement].append(n)
    for engagement, members in sorted(scopes.items()):
        kinds = {m.result_type for m in members}
        if "output" in kinds and "outcome" not in kinds:
            out.append(
                Finding(
                    "output-only",
                    "warning",
                    None,
                    _(
                        "Engagement %(engagement)s has only output KPIs; add the outcome they should produce."
                    )
                    % {"engagement": engagement},
                )
            )
        if len(members) == 1:
            out.append(
                Finding(
                    "single-kpi",
                    "warning",
                    members[0].code,
                    _(
                        "Engagement %(engagement)s is measured by one KPI only; mix quantity and quality."
                    )
                    % {"engagement": engagement},
                )
            )

    # 5.–7. Targets: missing, without rationale, far from benchmark or history.
    for n in kpis:
        own = targets_of.get(n.code, [])
        if not own:
            if n.rollup == "input":
                out.append(
                    Finding(
                        "no-target",
                        "warning",
                        n.code,
                        _("“%(name)s” has no target.") % {"name": n.name},
                    )
                )
            continue
        if any(not rationale for _m, _v, rationale in own):
            out.append(
                Finding(
                    "no-rationale",
                    "warning",
                    n.code,
                    _(
                        "Some targets of “%(name)s” have no rationale (benchmark, past results or agreement)."
                    )
                    % {"name": n.name},
                )
            )
        mean_target = sum(v for _m, v, _r in own) / len(own)
        if n.benchmark and _far(mean_target, n.benchmark):
            out.append(
                Finding(
                    "target-vs-benchmark",
                    "warning",
                    n.code,
                    _(
                        "The target of “%(name)s” (%(target)s) is far from its benchmark (%(benchmark)s)."
                    )
                    % {"name": n.name, "target": _fmt(mean_target), "benchmark": _fmt(n.benchmark)},
                )
            )
        recent = sorted(actuals_of.get(n.code, []))[-HISTORY_MONTHS:]
        if len(recent) == HISTORY_MONTHS:
            past = sum(v for _m, v in recent) / HISTORY_MONTHS
            if past and _far(mean_target, past):
                out.append(
                    Finding(
                        "target-vs-history",
                        "warning",
                        n.code,
                        _(
                            "The target of “%(name)s” (%(target)s) is far from its recent actuals (%(past)s on average)."
                        )
                        % {"name": n.name, "target": _fmt(mean_target), "past": _fmt(past)},
                    )
                )

    # 8./9. Owner and definition.
    for n in kpis:
        if not n.engagement and not n.owner:
            out.append(
                Finding(
                    "no-owner",
                    "warning",
                    n.code,
                    _(
                        "“%(name)s” has no owner: assign a vendor's engagement, a department or a person."
                    )
                    % {"name": n.name},
                )
            )
        if not n.definition.strip():
            out.append(
                Finding(
                    "no-definition",
                    "info",
                    n.code,
                    _("“%(name)s” has no definition (what counts, period, data source).")
                    % {"name": n.name},
                )
            )

    # 10. No risk or change-management KPI.
    if kpis and not any(_is_risk(n) for n in nodes):
        out.append(
            Finding(
                "no-risk-kpi",
                "info",
                None,
                _(
                    "No risk or change-management KPI (e.g. days to handle a change request, risk reviews held)."
                ),
            )
        )

    # 11. A Balanced Scorecard perspective left empty.
    present = {n.perspective for n in nodes if n.perspective}
    labels = {
        "financial": _("Financial"),
        "customer": _("Customer"),
        "process": _("Internal process"),
        "learning": _("Learning and growth"),
    }
    for perspective in PERSPECTIVES:
        if kpis and perspective not in present:
            out.append(
                Finding(
                    "perspective-missing",
                    "warning",
                    None,
                    _("No KPI in the %(perspective)s perspective.")
                    % {"perspective": labels[perspective]},
                )
            )

    # 12. Not reviewed within its cadence (放置).
    for n in kpis:
        days = CADENCE_DAYS.get(n.review_cadence, CADENCE_DAYS["quarterly"])
        if n.reviewed_at and (today - n.reviewed_at).days > days:
            out.append(
                Finding(
                    "review-overdue",
                    "warning",
                    n.code,
                    _("“%(name)s” has not been reviewed since %(date)s.")
                    % {"name": n.name, "date": n.reviewed_at.isoformat()},
                )
            )
    return out


def _far(value: float, reference: float) -> bool:
    return abs(value - reference) > FAR * abs(reference)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _is_risk(n: LintNode) -> bool:
    text = f"{n.code} {n.name} {n.template_code}".lower()
    return n.template_code.startswith("risk.") or any(word in text for word in RISK_WORDS)
