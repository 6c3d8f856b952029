"""Design lint rules on small hand-made trees (no database)."""

import datetime as dt

from django.utils import translation

from kpitree.lint import LintNode as N
from kpitree.lint import lint_tree

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
