"""An engagement with SLA-ready KPIs: アポ数 (target 100 a month), 架電数 (volume), 売上増加額
(gain, yen) and 受注数 (acquired), fee 1,000,000 JPY, months 2026-04 … 2027-03."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from engagements.models import Engagement, Submission, SubmissionStatus, User
from kpitree import recompute
from kpitree.models import Node, Tree
from kpitree.services import actuals_record, targets_record
from money.services import rule_set_adopt, rule_set_save
from tests.factories import EngagementFactory, TreeFactory

ISSUE_BANDS = [
    {"lower": "110", "upper": None, "pct_of_fee": "5"},
    {"lower": "90", "upper": "100", "pct_of_fee": "-3"},
    {"lower": None, "upper": "90", "pct_of_fee": "-8"},
]


@dataclass
class Sla:
    engagement: Engagement
    tree: Tree
    appts: Node
    calls: Node
    gain: Node
    orders: Node
    manager: User

    def month(self, period: str, **actuals: float) -> None:
        """Targets (アポ数 100) and the given actuals of a month, rolled up, then approved."""
        targets_record(
            user=self.manager,
            tree=self.tree,
            rows=[{"node": "appts", "period": period, "value": 100}],
            channel="api",
        )
        rows = [
            {"tree": "SLA", "node": code, "period": period, "value": v, "comment": ""}
            for code, v in actuals.items()
        ]
        if rows:
            actuals_record(user=self.manager, rows=rows, channel="api")
        recompute.tree_recompute(tree_id=self.tree.pk)
        approve(self.engagement, period)

    def rules(self, **data) -> object:
        data = {
            "name": "SLA 2026",
            "effective_from": "2026-04",
            "rules": [{"node": self.appts.pk, "bands": ISSUE_BANDS}],
            **data,
        }
        return rule_set_adopt(
            user=self.manager,
            rule_set=rule_set_save(user=self.manager, engagement=self.engagement, data=data),
        )


def approve(engagement: Engagement, period: str) -> None:
    month = dt.date.fromisoformat(period + "-01")
    Submission.objects.update_or_create(
        engagement=engagement, period=month, defaults={"status": SubmissionStatus.APPROVED}
    )


@pytest.fixture
def sla(manager, vendor_a) -> Sla:
    engagement = EngagementFactory(code="CALL-SLA", name="テレアポ", vendor=vendor_a)
    tree = TreeFactory(code="SLA", name="SLA")
    kgi = Node.objects.create(tree=tree, code="kgi", name="受注", kind="kgi", rollup="sum")

    def kpi(code: str, name: str, unit: str) -> Node:
        return Node.objects.create(
            tree=tree, code=code, name=name, parent=kgi, engagement=engagement, unit=unit
        )

    return Sla(
        engagement=engagement,
        tree=tree,
        appts=kpi("appts", "アポ数", "件"),
        calls=kpi("calls", "架電数", "件"),
        gain=kpi("gain", "売上増加額", "円"),
        orders=kpi("orders", "受注数", "件"),
        manager=manager,
    )
