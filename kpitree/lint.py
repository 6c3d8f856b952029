"""Design lint: the pitfalls of DOMAIN.md ("落とし穴") found in a KPI tree.

`lint_tree(nodes, targets, actuals, today=...)` is pure (no database): it takes plain rows so it
can be tested with small lists; `kpitree.api.LintView` loads them in a fixed number of queries.
Rule ids are stable (API.md "Lint"); messages are in the caller's language.

Each rule is a small function registered in `RULES` with `@rule(id, severity, each=..., ...)`. It
gets the `LintContext` (computed once per tree) and, depending on `each`, nothing more (TREE: run
once), one engagement and its KPIs (ENGAGEMENT: run per engagement, by code) or one KPI (KPI: run per
KPI, in the order of `nodes`). It yields `Flag`s (where and why); the registry adds the rule id and
the severity. Findings come in registry order, except that the consecutive rules of one `section`
run together subject by subject: all the target findings of one KPI, then those of the next. That
is the order API clients have always received.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kpi_planner import numbers
from kpitree import target_gap

TOO_MANY = 10  # "10 or more KPIs for one scope dilutes focus"
CADENCE_DAYS = {"monthly": 31, "quarterly": 92, "yearly": 366}
RISK_WORDS = ("リスク", "仕様変更", "変更", "risk", "change")
PERSPECTIVES = ("financial", "customer", "process", "learning")

Severity = Literal["error", "warning", "info"]
Each = Literal["tree", "engagement", "kpi"]
TREE: Each = "tree"
ENGAGEMENT: Each = "engagement"
KPI: Each = "kpi"


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
    unit: str = ""
    formula_names: frozenset[str] = field(default_factory=frozenset)
    benchmark: float | None = None
    review_cadence: str = "quarterly"  # the node's own, else its engagement's, else quarterly
    # The last review meeting that covered it (Node.reviewed_on), else the day it was made.
    reviewed_at: dt.date | None = None
    template_code: str = ""


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # error | warning | info
    node: str | None
    message: str
    advice: str = ""  # what to do about it (the rule's advice)
    # The node form's field that fixes it ("" when none does); on a finding about no node (the
    # tree, an engagement) the field of the KPI to add ("targets": the node's targets page).
    field: str = ""
    # Which of the rule's findings about the same node this is: an engagement finding's
    # engagement code, a missing perspective's id, else "". (rule, node, subject) names a finding
    # (LintAcknowledgement keeps it).
    subject: str = ""
    # A manager's acknowledgement ({"reason", "by", "at"}), set by kpitree.queries.tree_findings.
    acknowledged: dict | None = None

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "node": self.node,
            "message": self.message,
            "advice": self.advice,
            "field": self.field,
            "subject": self.subject,
            "acknowledged": self.acknowledged,
        }

    @property
    def is_open(self) -> bool:
        """Counts against the design: not acknowledged."""
        return self.acknowledged is None


class Flag(NamedTuple):
    """What a rule function yields: the node it is about (None: the tree or an engagement), the
    translated message, a severity only when it differs from the rule's, and a subject when one
    rule may flag the same node (or the tree) more than once (an engagement, a perspective)."""

    node: str | None
    message: str
    severity: Severity | None = None
    subject: str = ""
    field: str | None = None  # the fixing field, when it differs from the rule's


def _setting(name: str, default: float) -> float:
    from django.conf import settings

    return getattr(settings, name, default)


def _setting_map(name: str) -> dict[str, int]:
    from django.conf import settings

    return {k: int(v) for k, v in getattr(settings, name, {}).items()}


@dataclass(frozen=True)
class LintSettings:
    """The thresholds, in one value so that a caller (a tree, a test) can change them; by
    default from the settings LINT_TOO_MANY_KPIS, LINT_TARGET_FAR_RATIO,
    LINT_HISTORY_MONTHS and LINT_REVIEW_DAYS (README "Configuration")."""

    too_many: int = field(default_factory=lambda: int(_setting("LINT_TOO_MANY_KPIS", TOO_MANY)))
    far: float = field(
        default_factory=lambda: float(_setting("LINT_TARGET_FAR_RATIO", target_gap.FAR))
    )
    history_months: int = field(
        default_factory=lambda: int(_setting("LINT_HISTORY_MONTHS", target_gap.HISTORY_MONTHS))
    )
    cadence_days: dict[str, int] = field(
        default_factory=lambda: {**CADENCE_DAYS, **_setting_map("LINT_REVIEW_DAYS")}
    )


@dataclass(frozen=True)
class LintContext:
    """Everything a rule reads, computed once per tree."""

    nodes: list[LintNode]
    by_code: dict[str, LintNode]
    kpis: list[LintNode]
    children: dict[str | None, list[LintNode]]  # parent code (None: roots) → nodes, in node order
    engagements: dict[str, list[LintNode]]  # engagement code → its KPIs, by engagement code
    targets_of: dict[str, list[tuple[dt.date, float, str]]]  # node → (month, value, rationale)
    actuals_of: dict[str, list[tuple[dt.date, float]]]  # node → (month, value), by month
    today: dt.date
    settings: LintSettings

    @classmethod
    def of(
        cls,
        nodes: list[LintNode],
        targets: Iterable[tuple[str, dt.date, float, str]],
        actuals: Iterable[tuple[str, dt.date, float]],
        *,
        today: dt.date,
        settings: LintSettings | None = None,
    ) -> LintContext:
        kpis = [n for n in nodes if n.kind == "kpi"]
        children: dict[str | None, list[LintNode]] = defaultdict(list)
        for n in nodes:
            children[n.parent].append(n)
        engagements: dict[str, list[LintNode]] = defaultdict(list)
        for n in kpis:
            if n.engagement:
                engagements[n.engagement].append(n)
        targets_of: dict[str, list[tuple[dt.date, float, str]]] = defaultdict(list)
        for code, month, value, rationale in targets:
            targets_of[code].append((month, value, rationale))
        actuals_of: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
        for code, month, value in actuals:
            actuals_of[code].append((month, value))
        return cls(
            nodes=nodes,
            by_code={n.code: n for n in nodes},
            kpis=kpis,
            children=dict(children),
            engagements=dict(sorted(engagements.items())),
            targets_of=dict(targets_of),
            actuals_of={code: sorted(rows) for code, rows in actuals_of.items()},
            today=today,
            settings=settings or LintSettings(),
        )


@dataclass(frozen=True)
class Rule:
    id: str  # stable, kebab-case (API.md "Lint")
    severity: Severity  # of its findings, unless a Flag says otherwise
    each: Each
    section: str
    advice: Promise  # one translated line: what to do about it
    check: Callable[..., Iterable[Flag]]
    field: str = ""  # the node form's field that fixes a finding of it

    def findings(self, ctx: LintContext, *subject) -> Iterator[Finding]:
        about = subject[0] if self.each == ENGAGEMENT and subject else ""
        for flag in self.check(ctx, *subject):
            yield Finding(
                self.id,
                flag.severity or self.severity,
                flag.node,
                flag.message,
                advice=str(self.advice),
                field=self.field if flag.field is None else flag.field,
                subject=flag.subject or about,
            )


RULES: dict[str, Rule] = {}  # rule id → rule, in the order findings are reported


def rule(
    rule_id: str,
    severity: Severity,
    *,
    each: Each,
    advice: Promise,
    section: str | None = None,
    field: str = "",
) -> Callable[[Callable[..., Iterable[Flag]]], Callable[..., Iterable[Flag]]]:
    """Register a rule function; `section` (default: its own id) groups it with the rules
    registered just before it, which must apply to the same `each`."""

    def register(check: Callable[..., Iterable[Flag]]) -> Callable[..., Iterable[Flag]]:
        name = section or rule_id
        if rule_id in RULES:
            raise ValueError(f"lint rule {rule_id!r} is registered twice")
        last = next(reversed(RULES.values()), None)
        if any(r.section == name for r in RULES.values()) and (
            last is None or last.section != name or last.each != each
        ):
            raise ValueError(f"lint rule {rule_id!r}: section {name!r} must be one run of one each")
        RULES[rule_id] = Rule(rule_id, severity, each, name, advice, check, field)
        return check

    return register


def lint_tree(
    nodes: list[LintNode],
    targets: Iterable[tuple[str, dt.date, float, str]],  # node, month, value, rationale
    actuals: Iterable[tuple[str, dt.date, float]],  # node, month, value
    *,
    today: dt.date,
) -> list[Finding]:
    return list(run(LintContext.of(nodes, targets, actuals, today=today)))


def run(ctx: LintContext, rules: Iterable[Rule] | None = None) -> Iterator[Finding]:
    """The findings of `rules` (default: all of RULES, in their order) on one tree."""
    sections: list[list[Rule]] = []
    for r in RULES.values() if rules is None else rules:
        if sections and sections[-1][0].section == r.section:
            sections[-1].append(r)
        else:
            sections.append([r])
    for section in sections:
        for subject in _subjects(ctx, section[0].each):
            for r in section:
                yield from r.findings(ctx, *subject)


def _subjects(ctx: LintContext, each: Each) -> list[tuple]:
    if each == ENGAGEMENT:
        return list(ctx.engagements.items())
    if each == KPI:
        return [(n,) for n in ctx.kpis]
    return [()]


# -- the rules, in the order of their findings ----------------------------------------------------


@rule(
    "too-many-kpis",
    "warning",
    each=TREE,
    advice=gettext_lazy("Keep a few core KPIs per engagement and per node; layer the rest below."),
    field="parent",
)
def too_many_kpis(ctx: LintContext) -> Iterator[Flag]:
    """Pitfall 1, per engagement and under one parent."""
    limit = ctx.settings.too_many
    for engagement, members in ctx.engagements.items():
        if len(members) >= limit:
            yield Flag(
                None,
                _(
                    "Engagement %(engagement)s owns %(count)d KPIs; keep a few core ones and layer the rest."
                )
                % {"engagement": engagement, "count": len(members)},
                subject=engagement,
                field="",  # no field of one node splits an engagement's KPIs
            )
    for parent, kids in ctx.children.items():
        if parent is not None and len(kids) >= limit:
            yield Flag(
                parent,
                _("%(count)d KPIs directly under one node dilute focus.") % {"count": len(kids)},
            )


@rule(
    "orphan-kpi",
    "warning",
    each=KPI,
    advice=gettext_lazy("Connect every KPI to a KGI and use it in its parent's formula."),
    field="parent",
)
def orphan_kpi(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 2: no path to a KGI (warning), or left out of the parent's formula (info)."""
    if n.parent is None:
        yield Flag(n.code, _("“%(name)s” is not connected to any KGI.") % {"name": n.name})
        return
    parent = ctx.by_code.get(n.parent)
    if (
        parent
        and parent.rollup == "formula"
        and parent.formula_names
        and n.code not in parent.formula_names
    ):
        yield Flag(
            n.code,
            _("“%(name)s” is not used in the formula of its parent, so it does not drive it.")
            % {"name": n.name},
            "info",
        )


@rule(
    "output-only",
    "warning",
    each=ENGAGEMENT,
    section="mix",
    advice=gettext_lazy("Add the outcome KPI that an engagement's outputs should produce."),
    field="result_type",
)
def output_only(ctx: LintContext, engagement: str, members: list[LintNode]) -> Iterator[Flag]:
    """Pitfall 3."""
    kinds = {m.result_type for m in members}
    if "output" in kinds and "outcome" not in kinds:
        yield Flag(
            None,
            _(
                "Engagement %(engagement)s has only output KPIs; add the outcome they should produce."
            )
            % {"engagement": engagement},
        )


@rule(
    "single-kpi",
    "warning",
    each=ENGAGEMENT,
    section="mix",
    advice=gettext_lazy("Measure each engagement by several KPIs that mix quantity and quality."),
    field="engagement",
)
def single_kpi(ctx: LintContext, engagement: str, members: list[LintNode]) -> Iterator[Flag]:
    """Pitfall 4."""
    if len(members) == 1:
        yield Flag(
            members[0].code,
            _("Engagement %(engagement)s is measured by one KPI only; mix quantity and quality.")
            % {"engagement": engagement},
        )


@rule(
    "no-target",
    "warning",
    each=KPI,
    section="targets",
    advice=gettext_lazy("Set monthly targets for every KPI that is entered."),
    field="targets",
)
def no_target(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Computed KPIs follow their children's targets, so only entered ones need their own."""
    if not ctx.targets_of.get(n.code) and n.rollup == "input":
        yield Flag(n.code, _("“%(name)s” has no target.") % {"name": n.name})


@rule(
    "no-rationale",
    "warning",
    each=KPI,
    section="targets",
    advice=gettext_lazy(
        "Give every target its rationale: a benchmark, past results or an agreement."
    ),
    field="targets",
)
def no_rationale(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 5, the rationale half."""
    if any(not rationale for _m, _v, rationale in ctx.targets_of.get(n.code, [])):
        yield Flag(
            n.code,
            _(
                "Some targets of “%(name)s” have no rationale (benchmark, past results or agreement)."
            )
            % {"name": n.name},
        )


@rule(
    "target-vs-benchmark",
    "warning",
    each=KPI,
    section="targets",
    advice=gettext_lazy(
        "Bring a target far from its benchmark closer to it, or record why it differs."
    ),
    field="benchmark",
)
def target_vs_benchmark(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 5: the mean of the node's targets against its benchmark (kpitree.target_gap)."""
    target = _mean_target(ctx, n)
    if (
        target is not None
        and n.benchmark is not None  # is_far is False without a benchmark, too
        and target_gap.is_far(target, n.benchmark, ratio=ctx.settings.far)
    ):
        yield Flag(
            n.code,
            _("The target of “%(name)s” (%(target)s) is far from its benchmark (%(benchmark)s).")
            % {
                "name": n.name,
                "target": numbers.value(target),
                "benchmark": numbers.value(n.benchmark),
            },
        )


@rule(
    "target-vs-history",
    "warning",
    each=KPI,
    section="targets",
    advice=gettext_lazy(
        "Check a target far from the recent actuals against what can be achieved, or record why."
    ),
    field="targets",
)
def target_vs_history(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 5: the mean of the node's targets against the mean of its latest actuals
    (kpitree.target_gap); only once a full window of actuals exists, a single month says little."""
    target = _mean_target(ctx, n)
    actuals = ctx.actuals_of.get(n.code, [])
    months = ctx.settings.history_months
    if target is None or len(actuals) < months:
        return
    past = target_gap.history_mean(actuals, months=months)
    if past is not None and target_gap.is_far(target, past, ratio=ctx.settings.far):
        yield Flag(
            n.code,
            _(
                "The target of “%(name)s” (%(target)s) is far from its recent actuals (%(past)s on average)."
            )
            % {"name": n.name, "target": numbers.value(target), "past": numbers.value(past)},
        )


@rule(
    "no-owner",
    "error",
    each=KPI,
    section="ownership",
    advice=gettext_lazy("Assign every KPI to a vendor's engagement, a department or a person."),
    field="owner",
)
def no_owner(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 6 (丸投げ): an error — a KPI nobody owns is nobody's to move. Owned means an
    owning engagement (its vendor) or an owner text (a department or a person)."""
    if not n.engagement and not n.owner:
        yield Flag(
            n.code,
            _("“%(name)s” has no owner: assign a vendor's engagement, a department or a person.")
            % {"name": n.name},
        )


@rule(
    "no-definition",
    "info",
    each=KPI,
    section="ownership",
    advice=gettext_lazy(
        "Define what counts, the evaluation period and the data source of every KPI."
    ),
    field="definition",
)
def no_definition(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 8."""
    if not n.definition.strip():
        yield Flag(
            n.code,
            _("“%(name)s” has no definition (what counts, period, data source).")
            % {"name": n.name},
        )


@rule(
    "no-risk-kpi",
    "info",
    each=TREE,
    advice=gettext_lazy(
        "Add a risk or change-management KPI, such as the days to handle a change request."
    ),
    field="name",
)
def no_risk_kpi(ctx: LintContext) -> Iterator[Flag]:
    """Pitfall 7: recognised by its template (risk.*) or a word in its code or name."""
    if ctx.kpis and not any(_is_risk(n) for n in ctx.nodes):
        yield Flag(
            None,
            _(
                "No risk or change-management KPI (e.g. days to handle a change request, risk reviews held)."
            ),
        )


@rule(
    "perspective-missing",
    "warning",
    each=TREE,
    advice=gettext_lazy("Give each of the four Balanced Scorecard perspectives at least one KPI."),
    field="perspective",
)
def perspective_missing(ctx: LintContext) -> Iterator[Flag]:
    """Pitfall 10, one finding per empty perspective."""
    if not ctx.kpis:
        return
    present = {n.perspective for n in ctx.nodes if n.perspective}
    labels = {
        "financial": _("Financial"),
        "customer": _("Customer"),
        "process": _("Internal process"),
        "learning": _("Learning and growth"),
    }
    for perspective in PERSPECTIVES:
        if perspective not in present:
            yield Flag(
                None,
                _("No KPI in the %(perspective)s perspective.")
                % {"perspective": labels[perspective]},
                subject=perspective,
            )


@rule(
    "review-overdue",
    "warning",
    each=KPI,
    advice=gettext_lazy("Review every KPI within its review cadence, so it does not drift."),
    field="review_cadence",
)
def review_overdue(ctx: LintContext, n: LintNode) -> Iterator[Flag]:
    """Pitfall 9 (放置): no review meeting covered the KPI (Node.reviewed_on, set when a pdca
    review closes) for longer than its cadence, counted from its creation when never reviewed."""
    cadences = ctx.settings.cadence_days
    days = cadences.get(n.review_cadence, cadences["quarterly"])
    if n.reviewed_at and (ctx.today - n.reviewed_at).days > days:
        yield Flag(
            n.code,
            _("“%(name)s” has not been reviewed since %(date)s.")
            % {"name": n.name, "date": n.reviewed_at.isoformat()},
        )


@rule(
    "kgi-unreached",
    "error",
    each=TREE,
    advice=gettext_lazy("Break every KGI down into the KPIs that drive it."),
    field="parent",
)
def kgi_unreached(ctx: LintContext) -> Iterator[Flag]:
    """A KGI that no KPI leads to: nothing anyone does is measured against it."""
    for n in ctx.nodes:
        if n.kind == "kgi" and not _has_kpi_below(ctx, n.code):
            yield Flag(
                n.code,
                _("No KPI leads to the KGI “%(name)s”: break it down into the KPIs that drive it.")
                % {"name": n.name},
            )


@rule(
    "sum-mixed-units",
    "error",
    each=TREE,
    advice=gettext_lazy("Add up only KPIs of one unit; use a formula to combine different units."),
    field="rollup",
)
def sum_mixed_units(ctx: LintContext) -> Iterator[Flag]:
    """A sum over children of different units (the node rules refuse it now; one may have got in
    before them)."""
    for n in ctx.nodes:
        if n.rollup != "sum":
            continue
        units = sorted({c.unit for c in ctx.children.get(n.code, []) if c.unit})
        if len(units) > 1:
            yield Flag(
                n.code,
                _("“%(name)s” adds up KPIs of different units (%(units)s).")
                % {"name": n.name, "units": ", ".join(units)},
            )


# -- helpers ----------------------------------------------------------------------------------------


def _has_kpi_below(ctx: LintContext, code: str) -> bool:
    stack, seen = [code], set()
    while stack:
        current = stack.pop()
        for child in ctx.children.get(current, []):
            if child.code in seen:
                continue
            seen.add(child.code)
            if child.kind == "kpi":
                return True
            stack.append(child.code)
    return False


def _mean_target(ctx: LintContext, n: LintNode) -> float | None:
    own = ctx.targets_of.get(n.code)
    return sum(v for _m, v, _r in own) / len(own) if own else None


def _is_risk(n: LintNode) -> bool:
    text = f"{n.code} {n.name} {n.template_code}".lower()
    return n.template_code.startswith("risk.") or any(word in text for word in RISK_WORDS)
