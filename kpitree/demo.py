"""Demo KPI trees (Japanese scenario), written through the services like any other data.

FY2026 新規顧客獲得: KGI 新規顧客数 = 受注数 (call centre funnel) + 広告経由CV数 (ad agency)
+ 記事経由リード (writing company), with process, customer and learning KPIs beside them.
FY2026 売上計画: 売上 = 訪問数 × CVR × 平均単価 (the worked example: 10,000,000 JPY).
Actuals run from April to October 2026, targets for the whole fiscal year.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from engagements.models import Engagement, User
from kpitree import recompute, services
from kpitree.models import Actual, Node, Tree

FY_START, FY_END = dt.date(2026, 4, 1), dt.date(2027, 3, 1)
ACTUAL_MONTHS = [f"2026-{m:02d}" for m in range(4, 11)]
ALL_MONTHS = [f"2026-{m:02d}" for m in range(4, 13)] + [f"2027-{m:02d}" for m in range(1, 4)]

# code, name, parent, engagement, fields
ACQUISITION = [
    (
        "new_customers",
        "新規顧客数",
        None,
        None,
        dict(
            kind="kgi",
            rollup="sum",
            unit="件",
            perspective="financial",
            result_type="outcome",
            importance=5,
            definition="初回契約を締結した法人顧客の数（月次、契約日基準）",
            okr_objective="顧客獲得の効率を高め、持続的な成長基盤を築く",
        ),
    ),
    (
        "orders",
        "受注数",
        "new_customers",
        "CALL-2026",
        dict(
            rollup="formula",
            formula="calls * connect_rate / 100 * appt_rate / 100 * meeting_rate / 100 * win_rate / 100",
            unit="件",
            perspective="financial",
            result_type="outcome",
            importance=5,
            template_code="call.orders",
        ),
    ),
    (
        "calls",
        "架電数",
        "orders",
        "CALL-2026",
        dict(
            unit="件",
            perspective="process",
            result_type="output",
            importance=3,
            definition="発信した通話の数（不通を含む）",
            template_code="call.calls",
        ),
    ),
    (
        "connect_rate",
        "接続率",
        "orders",
        "CALL-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="process",
            result_type="output",
            importance=3,
            template_code="call.connect_rate",
        ),
    ),
    (
        "appt_rate",
        "アポ取得率",
        "orders",
        "CALL-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="process",
            result_type="outcome",
            importance=4,
            definition="接続した通話のうちアポイントを獲得した割合",
            template_code="call.appt_rate",
        ),
    ),
    (
        "meeting_rate",
        "商談化率",
        "orders",
        "CALL-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="customer",
            result_type="outcome",
            importance=4,
            template_code="call.meeting_rate",
        ),
    ),
    (
        "win_rate",
        "受注率",
        "orders",
        "CALL-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="financial",
            result_type="outcome",
            importance=5,
            template_code="call.win_rate",
        ),
    ),
    (
        "ads_cv",
        "広告経由CV数",
        "new_customers",
        "ADS-2026",
        dict(
            rollup="formula",
            formula="clicks * cvr / 100",
            unit="件",
            perspective="financial",
            result_type="outcome",
            importance=5,
            template_code="ads.cv",
        ),
    ),
    (
        "clicks",
        "クリック数",
        "ads_cv",
        "ADS-2026",
        dict(
            unit="件",
            perspective="process",
            result_type="output",
            importance=3,
            template_code="ads.clicks",
        ),
    ),
    (
        "cvr",
        "CVR",
        "ads_cv",
        "ADS-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="customer",
            result_type="outcome",
            importance=4,
            benchmark=1.5,
            benchmark_source="業界平均（リスティング広告）",
            template_code="ads.cvr",
        ),
    ),
    (
        "seo_leads",
        "記事経由リード",
        "new_customers",
        "SEO-2026",
        dict(
            rollup="formula",
            formula="pv * lead_rate / 100",
            unit="件",
            perspective="financial",
            result_type="outcome",
            importance=4,
            template_code="article.leads",
        ),
    ),
    (
        "pv",
        "月間PV",
        "seo_leads",
        "SEO-2026",
        dict(
            unit="PV",
            perspective="customer",
            result_type="output",
            importance=3,
            template_code="article.pv",
        ),
    ),
    (
        "lead_rate",
        "リード転換率",
        "seo_leads",
        "SEO-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="customer",
            result_type="outcome",
            importance=3,
            template_code="article.lead_rate",
        ),
    ),
    (
        "quality",
        "品質・プロセス",
        # Its own root: a quality score in % does not add up with customer counts.
        None,
        None,
        dict(
            kind="kpi",
            rollup="weighted_avg",
            owner="品質管理部",
            unit="%",
            time_aggregation="avg",
            importance=3,
            perspective="process",
        ),
    ),
    (
        "ontime_rate",
        "納期遵守率",
        "quality",
        "SEO-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="process",
            result_type="output",
            importance=3,
            weight=2,
            benchmark=95,
            benchmark_source="記事納品率 95%/月",
            template_code="article.ontime_rate",
        ),
    ),
    (
        "csat",
        "顧客満足度",
        "quality",
        "CALL-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="customer",
            result_type="outcome",
            importance=4,
            weight=1,
            benchmark=80,
            benchmark_source="CSAT 80%以上",
            template_code="support.csat",
        ),
    ),
    (
        "ads_cpa",
        "CPA",
        None,
        "ADS-2026",
        dict(
            unit="円",
            direction="down",
            time_aggregation="avg",
            perspective="financial",
            result_type="outcome",
            importance=4,
            definition="広告費 ÷ 獲得CV数",
            template_code="ads.cpa",
        ),
    ),
    (
        "proposals",
        "改善提案件数",
        None,
        "CALL-2026",
        dict(
            unit="件",
            perspective="learning",
            result_type="output",
            importance=2,
            source="proposal_count",
            template_code="any.proposals",
        ),
    ),
]

# Monthly actuals Apr–Oct 2026 (seven values each) and a monthly target with its rationale.
ACTUALS: dict[str, list[float | None]] = {
    "calls": [2800, 2950, 3000, 3100, 2900, 3050, 2650],
    "connect_rate": [55, 58, 60, 61, 59, 60, 62],
    "appt_rate": [8, 9, 10, 10.5, 9.5, 10, 11],
    "meeting_rate": [45, 48, 50, 52, 50, 49, 51],
    "win_rate": [25, 28, 30, 29, 31, 30, 32],
    "clicks": [8000, 8500, 9000, 9200, 8800, 9400, 9800],
    "cvr": [1.2, 1.3, 1.4, 1.5, 1.4, 1.6, 1.3],
    "pv": [None, None, None, 12000, 15000, 18000, 21000],
    "lead_rate": [None, None, None, 0.3, 0.35, 0.4, 0.4],
    "ontime_rate": [None, None, None, 90, 92, 96, 88],
    "csat": [78, 80, 82, 81, 83, 84, 85],
    "ads_cpa": [12000, 11500, 11000, 10500, 10800, 10000, 9800],
}
COMMENTS = {
    ("calls", "2026-10"): "オペレーター2名の退職で架電数が減少。11月に2名補充予定。",
    ("cvr", "2026-10"): "LPの表示速度低下でCVRが減少。11月にLP改修とA/Bテストを実施します。",
    ("pv", "2026-10"): "上位10位以内の記事が5本増えPVが伸びた。",
}
TARGETS = {
    "calls": (3000, "agreement"),
    "connect_rate": (60, "past_results"),
    "appt_rate": (10, "benchmark"),
    "meeting_rate": (50, "agreement"),
    "win_rate": (30, "past_results"),
    "clicks": (9000, "agreement"),
    "cvr": (1.5, "benchmark"),
    "pv": (20000, "agreement"),
    "lead_rate": (0.4, "stretch"),
    "ontime_rate": (95, "benchmark"),
    "csat": (80, "benchmark"),
    "ads_cpa": (10000, "agreement"),
    "new_customers": (300, "agreement"),
}

REVENUE_VISITS = [50_000, 52_000, 48_000, 55_000, 53_000, 57_000, 60_000]
REVENUE_CVR = [2.0, 1.9, 2.1, 2.0, 1.8, 2.2, 2.1]

REVENUE = [
    (
        "sales",
        "売上",
        None,
        None,
        dict(
            kind="kgi",
            rollup="formula",
            formula="visits * cvr / 100 * avg_price",
            unit="円",
            perspective="financial",
            result_type="outcome",
            importance=5,
        ),
    ),
    (
        "visits",
        "月間訪問数",
        "sales",
        "ADS-2026",
        dict(unit="件", perspective="customer", result_type="output", importance=4),
    ),
    (
        "cvr",
        "CVR",
        "sales",
        "ADS-2026",
        dict(
            unit="%",
            time_aggregation="avg",
            perspective="customer",
            result_type="outcome",
            importance=4,
        ),
    ),
    (
        "avg_price",
        "平均単価",
        "sales",
        None,
        dict(
            unit="円",
            time_aggregation="avg",
            perspective="financial",
            result_type="outcome",
            importance=3,
            owner="営業部",
        ),
    ),
]


@transaction.atomic
def seed_trees() -> dict[str, int]:
    manager = User.objects.get(username="manager")
    engagements = {e.code: e for e in Engagement.objects.all()}
    acquisition = _tree(
        "FY2026-ACQ",
        "FY2026 新規顧客獲得",
        "新規顧客数 年間3,000件を目指すKPIツリー",
        ACQUISITION,
        engagements,
        manager,
    )
    revenue = _tree(
        "FY2026-REV",
        "FY2026 売上計画",
        "売上 = 訪問数 × CVR × 平均単価",
        REVENUE,
        engagements,
        manager,
    )
    rows = [
        {
            "tree": acquisition.code,
            "node": code,
            "period": month,
            "value": value,
            "comment": COMMENTS.get((code, month), ""),
        }
        for code, values in ACTUALS.items()
        for month, value in zip(ACTUAL_MONTHS, values, strict=True)
        if value is not None
    ]
    # April is the worked example: 50,000 visits × 2 % × 10,000 JPY = 10,000,000 JPY.
    for month, visits, cvr in zip(ACTUAL_MONTHS, REVENUE_VISITS, REVENUE_CVR, strict=True):
        rows.append({"tree": revenue.code, "node": "visits", "period": month, "value": visits})
        rows.append({"tree": revenue.code, "node": "cvr", "period": month, "value": cvr})
        rows.append({"tree": revenue.code, "node": "avg_price", "period": month, "value": 10_000})
    # Actuals are written once: later runs keep what users entered (and months get locked).
    if not Actual.objects.filter(node__tree__in=[acquisition, revenue]).exists():
        services.actuals_record(user=manager, rows=rows, channel="system")
    # A reason with every target: a later run may change the target of a month approved since.
    reason = "デモデータの目標"
    targets = [
        {"node": code, "period": month, "value": value, "rationale": rationale, "reason": reason}
        for code, (value, rationale) in TARGETS.items()
        for month in ALL_MONTHS
    ]
    services.targets_record(user=manager, tree=acquisition, rows=targets, channel="system")
    # The revenue tree's targets are set on its leaves; 売上's target is derived from them by its
    # formula: 52,000 visits × 2.0 % × 10,000 JPY = 10,400,000 JPY a month.
    services.targets_record(
        user=manager,
        tree=revenue,
        rows=[
            {"node": code, "period": m, "value": value, "rationale": rationale, "reason": reason}
            for code, value, rationale in (
                ("visits", 52_000, "past_results"),
                ("cvr", 2.0, "benchmark"),
                ("avg_price", 10_000, "agreement"),
            )
            for m in ALL_MONTHS
        ],
        channel="system",
    )
    for tree in (acquisition, revenue):
        recompute.tree_recompute(tree_id=tree.pk)
    return {"trees": 2, "nodes": Node.objects.filter(tree__in=[acquisition, revenue]).count()}


def _tree(
    code: str, name: str, description: str, spec: list, engagements: dict, manager: User
) -> Tree:
    tree_fields = {
        "code": code,
        "name": name,
        "description": description,
        "start_month": FY_START,
        "end_month": FY_END,
    }
    stored = Tree.objects.filter(code=code).first()
    if stored is None:
        tree = services.tree_create(user=manager, data=tree_fields)
    else:
        tree = services.tree_update(user=manager, tree=stored, data=tree_fields)
    existing = {n.code: n for n in Node.objects.filter(tree=tree)}
    for position, (node_code, node_name, parent, engagement, fields) in enumerate(spec):
        if node_code in existing:
            continue  # keep what a user changed in the demo
        data = {"code": node_code, "name": node_name, "position": position, **fields}
        data["parent"] = existing[parent] if parent else None
        data["engagement"] = engagements[engagement] if engagement else None
        # A formula names children, so it is set in a second pass once they exist.
        data.pop("formula", None)
        existing[node_code] = services.node_save(user=manager, node=Node(tree=tree), data=data)
    for node_code, _name, _parent, _eng, fields in spec:
        node = existing[node_code]
        if fields.get("formula") and not Node.objects.get(pk=node.pk).formula:
            services.node_save(user=manager, node=node, data={"formula": fields["formula"]})
    return tree
