"""The demo's money (issue 14), through the real services: 広告運用 (ADS-2026) gets a gain KPI
(広告経由の売上増加額) and ROI, cost and CPA nodes that compute themselves; テレアポ (CALL-2026) gets SLA rules on 受注数, an
extra charge, and statements for its approved months, April accepted by the vendor.

Two steps around the portal's approvals: `seed_inputs` writes the gain actuals while the months
are still open, `seed_rules` adopts the rules once they are approved. Idempotent.
"""

from __future__ import annotations

import datetime as dt

from engagements.models import Engagement, User
from kpitree import recompute
from kpitree import services as tree_services
from kpitree.models import Actual, Node, Tree
from money import services
from money.models import Charge, RuleSet, Statement

# 広告経由の売上増加額 by month, April … October 2026 (yen).
GAIN = [5_000_000, 4_200_000, 4_600_000, 3_900_000, 4_400_000, 4_800_000, 5_100_000]
MONTHS = [f"2026-{m:02d}" for m in range(4, 11)]
FED = [
    ("ads_roi", "広告投資のROI", "money_roi", "%"),
    ("ads_cost", "広告運用の外注費用", "money_cost", "円"),
    ("ads_cpa_fed", "獲得単価（費用÷CV）", "money_cpa", "円"),
]
CALL_BANDS = [
    {"lower": "110", "upper": None, "pct_of_fee": "5"},
    {"lower": "90", "upper": "100", "pct_of_fee": "-3"},
    {"lower": None, "upper": "90", "pct_of_fee": "-8"},
]


def _node(manager: User, tree: Tree, code: str, data: dict) -> Node:
    stored = Node.objects.filter(tree=tree, code=code).first()
    if stored is not None:
        return stored
    return tree_services.node_save(user=manager, node=Node(tree=tree), data={"code": code, **data})


def seed_inputs() -> dict[str, int]:
    """ADS-2026's gain KPI and fed nodes in the revenue tree, and its gain actuals."""
    manager = User.objects.get(username="manager")
    ads = Engagement.objects.get(code="ADS-2026")
    tree = Tree.objects.get(code="FY2026-REV")
    gain = _node(
        manager,
        tree,
        "ads_sales_uplift",
        {
            "name": "広告経由の売上増加額",
            "engagement": ads,
            "unit": "円",
            "perspective": "financial",
            "result_type": "outcome",
            "definition": "広告経由の受注による売上の前年同月からの増加額",
        },
    )
    for code, name, source, unit in FED:
        _node(
            manager,
            tree,
            code,
            {
                "name": name,
                "engagement": ads,
                "unit": unit,
                "source": source,
                "perspective": "financial",
                "result_type": "outcome",
                "direction": "down" if source in ("money_cpa", "money_cost") else "up",
            },
        )
    if not Actual.objects.filter(node=gain).exists():
        tree_services.actuals_record(
            user=manager,
            rows=[
                {"tree": tree.code, "node": gain.code, "period": m, "value": v, "comment": ""}
                for m, v in zip(MONTHS, GAIN, strict=True)
            ],
            channel="system",
        )
    acquired = Node.objects.filter(engagement=ads, template_code="ads.cv").first()
    services.money_settings_update(
        user=manager, engagement=ads, gain_node=gain, acquired_node=acquired
    )
    services.money_feed(user=manager, engagement=ads)
    recompute.tree_recompute(tree_id=tree.pk)
    return {"money_nodes": 1 + len(FED)}


def seed_rules() -> dict[str, int]:
    """CALL-2026's SLA rules on 受注数 (in force from April), a charge, the statements of its
    approved months, and April accepted by the vendor."""
    manager = User.objects.get(username="manager")
    call = Engagement.objects.get(code="CALL-2026")
    orders = Node.objects.get(engagement=call, template_code="call.orders")
    if not RuleSet.objects.filter(engagement=call).exists():
        draft = services.rule_set_save(
            user=manager,
            engagement=call,
            data={
                "name": "FY2026 SLA（受注数）",
                "effective_from": "2026-04",
                "cap_pct": "10",
                "earn_back_months": 2,
                "note": "契約書 第12条：受注数の達成率に応じて月額報酬を調整する",
                "rules": [{"node": orders.pk, "bands": CALL_BANDS}],
            },
        )
        services.rule_set_adopt(user=manager, rule_set=draft)
    if not Charge.objects.filter(engagement=call).exists():
        services.charge_add(
            user=manager,
            engagement=call,
            period="2026-06",
            amount=150_000,
            description="追加リストの購入（500件）",
        )
    services.statements_compute(engagement_ids=[call.pk], user=manager)
    april = Statement.objects.filter(engagement=call, period=dt.date(2026, 4, 1)).first()
    if april is not None and april.status == Statement.Status.OPEN:
        services.statement_accept(user=User.objects.get(username="vendor"), statement=april)
    return {"statements": Statement.objects.filter(engagement=call).count()}
