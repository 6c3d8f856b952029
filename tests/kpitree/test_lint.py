"""Design lint rules on small hand-made trees (no database)."""

import datetime as dt
from dataclasses import dataclass, replace

import pytest
from django.utils import translation

from kpitree import target_gap
from kpitree.lint import RULES, lint_tree
from kpitree.lint import LintNode as N

TODAY = dt.date(2026, 11, 21)
APR = dt.date(2026, 4, 1)
REVIEWED = dt.date(2026, 11, 1)


def rules(findings) -> list[tuple[str, str | None]]:
    return [(f.rule, f.node) for f in findings]


def balanced(**extra) -> list[N]:
    """A small tree without pitfalls."""
    base = dict(engagement="CALL", definition="定義あり", reviewed_at=REVIEWED)
    return [
        N(
            "kgi",
            "新規顧客数",
            kind="kgi",
            perspective="financial",
            rollup="sum",
            reviewed_at=REVIEWED,
        ),
        N("orders", "受注数", parent="kgi", perspective="financial", result_type="outcome", **base),
        N("calls", "架電数", parent="kgi", perspective="process", result_type="output", **base),
        N(
            "csat",
            "顧客満足度",
            parent="kgi",
            perspective="customer",
            result_type="outcome",
            **base,
        ),
        N(
            "proposals",
            "改善提案件数",
            parent="kgi",
            perspective="learning",
            result_type="output",
            **base,
        ),
        N(
            "change_days",
            "仕様変更対応日数",
            parent="kgi",
            perspective="process",
            result_type="outcome",
            **base,
        ),
    ]


def targets_for(nodes: list[N], value: float = 100) -> list:
    return [(n.code, APR, value, "agreement") for n in nodes if n.kind == "kpi"]


def test_it_finds_nothing_in_a_balanced_tree() -> None:
    nodes = balanced()
    assert lint_tree(nodes, targets_for(nodes), [], today=TODAY) == []


def test_it_flags_an_orphan_kpi_and_one_missing_from_the_formula() -> None:
    nodes = [
        N("sales", "売上", kind="kgi", rollup="formula", formula_names=frozenset({"visits"})),
        N("visits", "訪問数", parent="sales"),
        N("pv", "PV", parent="sales"),
        N("alone", "孤立KPI"),
    ]
    found = rules(lint_tree(nodes, [], [], today=TODAY))
    assert ("orphan-kpi", "alone") in found
    assert ("orphan-kpi", "pv") in found
    assert ("orphan-kpi", "visits") not in found


def test_it_flags_too_many_kpis_for_one_engagement() -> None:
    nodes = [N("kgi", "KGI", kind="kgi")] + [
        N(f"k{i}", f"KPI{i}", parent="kgi", engagement="ADS") for i in range(10)
    ]
    found = lint_tree(nodes, [], [], today=TODAY)
    assert ("too-many-kpis", None) in rules(found)
    assert ("too-many-kpis", "kgi") in rules(found)


def test_it_flags_outputs_only_and_a_single_kpi() -> None:
    nodes = [
        N("kgi", "KGI", kind="kgi"),
        N("pv", "PV", parent="kgi", engagement="SEO", result_type="output"),
        N("ontime", "納期遵守率", parent="kgi", engagement="LP", result_type="outcome"),
    ]
    found = rules(lint_tree(nodes, [], [], today=TODAY))
    assert ("output-only", None) in found
    assert ("single-kpi", "pv") in found and ("single-kpi", "ontime") in found


def test_it_checks_targets_against_benchmark_history_and_rationale() -> None:
    nodes = balanced()
    nodes[3] = N(
        "csat",
        "顧客満足度",
        parent="kgi",
        perspective="customer",
        result_type="outcome",
        engagement="CALL",
        definition="d",
        benchmark=70,
        reviewed_at=REVIEWED,
    )
    targets = targets_for(nodes)
    targets = [t for t in targets if t[0] != "calls"]  # no target for calls
    targets.append(("orders", dt.date(2026, 5, 1), 100, ""))  # no rationale
    actuals = [("orders", dt.date(2026, m, 1), 50) for m in (4, 5, 6)]  # target 100 vs 50
    with translation.override("en"):
        found = lint_tree(nodes, targets, actuals, today=TODAY)
    got = {(f.rule, f.node): f.message for f in found}
    assert set(got) == {
        ("no-target", "calls"),
        ("no-rationale", "orders"),
        ("target-vs-benchmark", "csat"),
        ("target-vs-history", "orders"),
    }
    assert (
        got[("target-vs-benchmark", "csat")]
        == "The target of “顧客満足度” (100) is far from its benchmark (70)."
    )


def test_it_flags_missing_owner_definition_risk_kpi_and_perspective() -> None:
    nodes = [
        N("kgi", "KGI", kind="kgi", perspective="financial"),
        N("x", "何か", parent="kgi", perspective="financial"),
    ]
    found = rules(lint_tree(nodes, [("x", APR, 1, "benchmark")], [], today=TODAY))
    assert found == [
        ("no-owner", "x"),
        ("no-definition", "x"),
        ("no-risk-kpi", None),
        ("perspective-missing", None),
        ("perspective-missing", None),
        ("perspective-missing", None),
    ]


def test_it_flags_a_kpi_not_reviewed_within_its_cadence() -> None:
    nodes = balanced()
    nodes[2] = N(
        "calls",
        "架電数",
        parent="kgi",
        perspective="process",
        result_type="output",
        engagement="CALL",
        definition="d",
        review_cadence="monthly",
        reviewed_at=dt.date(2026, 9, 1),
    )
    found = lint_tree(nodes, targets_for(nodes), [], today=TODAY)
    assert rules(found) == [("review-overdue", "calls")]
    assert found[0].message == "「架電数」は2026-09-01から見直されていません。"


# -- one fixture per rule: the balanced tree with one pitfall added -----------------------------


@dataclass(frozen=True)
class Case:
    nodes: list[N]
    targets: list
    actuals: list
    flagged: set[str | None]  # the nodes the rule names


def changed(node: str, **changes) -> list[N]:
    """The balanced tree with one node changed."""
    return [replace(n, **changes) if n.code == node else n for n in balanced()]


def case(nodes: list[N], flagged: set[str | None], targets=None, actuals=()) -> Case:
    return Case(nodes, targets_for(nodes) if targets is None else targets, list(actuals), flagged)


def ten_under_the_kgi() -> list[N]:
    """Ten KPIs under one node, in two engagements of five (so no engagement has ten)."""
    nodes = balanced()
    return nodes + [
        replace(n, code=f"{n.code}_ads", engagement="ADS") for n in nodes if n.kind == "kpi"
    ]


NO_TARGET_FOR_CALLS = [t for t in targets_for(balanced()) if t[0] != "calls"]
CALLS_WITHOUT_RATIONALE = [*NO_TARGET_FOR_CALLS, ("calls", APR, 100, "")]

CASES: dict[str, Case] = {
    "too-many-kpis": case(ten_under_the_kgi(), {"kgi"}),
    "orphan-kpi": case(changed("proposals", parent=None), {"proposals"}),
    "output-only": case(
        [replace(n, engagement="SEO") if n.result_type == "output" else n for n in balanced()],
        {None},
    ),
    "single-kpi": case(changed("csat", engagement="CS"), {"csat"}),
    "no-target": case(balanced(), {"calls"}, targets=NO_TARGET_FOR_CALLS),
    "no-rationale": case(balanced(), {"calls"}, targets=CALLS_WITHOUT_RATIONALE),
    "target-vs-benchmark": case(changed("csat", benchmark=70), {"csat"}),
    "target-vs-history": case(
        balanced(), {"orders"}, actuals=[("orders", dt.date(2026, m, 1), 50) for m in (4, 5, 6)]
    ),
    "no-owner": case(changed("calls", engagement=None), {"calls"}),
    "no-definition": case(changed("calls", definition=" "), {"calls"}),
    "no-risk-kpi": case(changed("change_days", code="delivery_days", name="納品日数"), {None}),
    "perspective-missing": case(changed("proposals", perspective="process"), {None}),
    "review-overdue": case(
        changed("calls", review_cadence="monthly", reviewed_at=dt.date(2026, 9, 1)), {"calls"}
    ),
    "kgi-unreached": case(
        [
            *balanced(),
            N("churn", "解約率", kind="kgi", perspective="customer", reviewed_at=REVIEWED),
        ],
        {"churn"},
    ),
    "sum-mixed-units": case(
        [replace(n, unit={"calls": "件", "csat": "%"}.get(n.code, n.unit)) for n in balanced()],
        {"kgi"},
    ),
}


def test_every_registered_rule_has_a_fixture() -> None:
    assert list(CASES) == list(RULES)


@pytest.mark.parametrize("rule_id", list(CASES))
def test_it_finds_exactly_the_rule_its_fixture_has(rule_id: str) -> None:
    c = CASES[rule_id]
    found = lint_tree(c.nodes, c.targets, c.actuals, today=TODAY)
    assert {f.rule for f in found} == {rule_id}
    assert {f.node for f in found} == c.flagged
    assert {f.severity for f in found} == {RULES[rule_id].severity}


def test_the_registry_lists_the_rule_ids_of_the_api_with_their_advice() -> None:
    assert list(RULES) == [
        "too-many-kpis",
        "orphan-kpi",
        "output-only",
        "single-kpi",
        "no-target",
        "no-rationale",
        "target-vs-benchmark",
        "target-vs-history",
        "no-owner",
        "no-definition",
        "no-risk-kpi",
        "perspective-missing",
        "review-overdue",
        "kgi-unreached",
        "sum-mixed-units",
    ]
    with translation.override("ja"):
        assert str(RULES["no-owner"].advice) == (
            "すべてのKPIに担当（外注先の契約・部署・担当者）を割り当てましょう。"
        )
        assert not any(str(r.advice).isascii() for r in RULES.values())  # all translated


def test_findings_of_one_section_come_kpi_by_kpi() -> None:
    nodes = changed("orders", benchmark=10, definition="")
    nodes = [replace(n, owner="", engagement=None) if n.code == "calls" else n for n in nodes]
    targets = [(c, m, v, "" if c == "calls" else r) for c, m, v, r in targets_for(nodes)]
    found = rules(lint_tree(nodes, targets, [], today=TODAY))
    assert found == [
        ("target-vs-benchmark", "orders"),
        ("no-rationale", "calls"),
        ("no-definition", "orders"),
        ("no-owner", "calls"),
    ]


def test_a_target_at_exactly_the_threshold_is_not_far() -> None:
    assert target_gap.is_far(130, 100) is False
    assert target_gap.is_far(131, 100) is True
    assert target_gap.is_far(1, 0) is False  # no fraction of zero


def test_the_history_is_the_mean_of_the_last_three_actuals_before_the_month() -> None:
    actuals = [(dt.date(2026, m, 1), m * 10) for m in (7, 4, 5, 6, 8)]
    assert target_gap.history_mean(actuals, before=dt.date(2026, 8, 1)) == 60  # May–July
    assert target_gap.history_mean(actuals) == 70  # June–August
    assert target_gap.history_mean(actuals, before=dt.date(2026, 5, 1)) == 40  # April alone
    assert target_gap.history_mean(actuals, before=APR) is None


def test_errors_are_the_findings_that_break_the_design() -> None:
    assert {r.id for r in RULES.values() if r.severity == "error"} == {
        "no-owner",
        "kgi-unreached",
        "sum-mixed-units",
    }
    # Each finding says what to do and which field of the node fixes it.
    (found,) = lint_tree(*_no_owner_case(), today=TODAY)
    assert (found.field, found.severity) == ("owner", "error")
    with translation.override("en"):
        (found,) = lint_tree(*_no_owner_case(), today=TODAY)
    assert found.advice == "Assign every KPI to a vendor's engagement, a department or a person."


def _no_owner_case() -> tuple[list, list, list]:
    c = CASES["no-owner"]
    return c.nodes, c.targets, c.actuals


def test_the_thresholds_are_settings(settings) -> None:
    settings.LINT_TOO_MANY_KPIS = 5
    nodes = balanced()
    found = lint_tree(nodes, targets_for(nodes), [], today=TODAY)
    assert rules(found) == [("too-many-kpis", None), ("too-many-kpis", "kgi")]
